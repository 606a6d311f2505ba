// Vendor dashboard layout (issue 20): a payout run through its confirmation (figures shown)
// and the CSV download; a form error shown beside its field; every dashboard page (the nav
// and the detail pages) at 375 px without sideways scrolling and at 1,280 px with a
// one-line header; the menu button opening the nav on a phone.
//
//   cargo build && npm ci --prefix tests/e2e && node tests/e2e/vendor-layout.mjs

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { Flow, visibleText } from './lib/browser.mjs';
import { assertNoHorizontalScroll, newContext, signIn, startVendorHarness, stopVendorHarness } from './lib/vendor.mjs';

const PHONE = { width: 375, height: 740 };
let h;
/** Pages found while walking, besides the nav: detail pages of the objects made below. */
const details = [];

before(async () => {
  h = await startVendorHarness('vendor-layout');
  const program = h.vendor.program_id;
  await h.api.expect(200, 'PATCH', `/api/v1/programs/${program}`, { min_payout_cents: 100 });
  for (const name of ['ann', 'ben']) {
    const a = await h.api.expect(201, 'POST', '/api/v1/affiliates', {
      email: `${name}@partners.test`, name: `${name[0].toUpperCase()}${name.slice(1)} Partner`, send_invite: false,
    });
    await h.api.expect(200, 'PATCH', `/api/v1/affiliates/${a.id}`, {
      status: 'active', payout_method: 'paypal', payout_email: `${name}@paypal.test`,
    });
    const c = await h.api.expect(201, 'POST', '/api/v1/conversions', { affiliate_id: a.id, amount_cents: name === 'ann' ? 20000 : 5000 });
    await h.api.expect(200, 'POST', `/api/v1/conversions/${c.id}/approve`);
    // A promo code and a bonus, so the affiliate page shows both lists.
    await h.api.expect(201, 'POST', `/api/v1/affiliates/${a.id}/promo-codes`, { code: `${name.toUpperCase()}20` });
    await h.api.expect(201, 'POST', `/api/v1/affiliates/${a.id}/bonuses`, { amount_cents: 2500, note: 'Launch week: thank you for the review' });
    details.push(`/dashboard/affiliates/${a.id}`, `/dashboard/affiliates/${a.id}/ledger`, `/dashboard/conversions/${c.id}`);
  }
  // A pending conversion, so the Conversions table has its actions column.
  const list = await h.api.get('/api/v1/affiliates');
  const first = list.data[0].id;
  await h.api.expect(201, 'POST', '/api/v1/conversions', { affiliate_id: first, amount_cents: 4900, external_id: 'order-with-a-rather-long-reference-0001' });
  // A second partner group with a promotion rule, so the groups page has both lists.
  const groups = await h.api.get(`/api/v1/programs/${program}/groups`);
  const gold = await h.api.expect(201, 'POST', `/api/v1/programs/${program}/groups`, {
    name: 'Gold partners', commission: { type: 'percentage', bps: 3000 }, holding_period_days: 0,
  });
  await h.api.expect(201, 'POST', `/api/v1/programs/${program}/group-rules`, {
    from_group_id: groups.data[0].id, to_group_id: gold.id, metric: 'approved_conversions', threshold: 10,
  });
  details.push(`/dashboard/programs/${program}/groups`, `/dashboard/groups/${gold.id}`);
  // A sale held for review (a disposable email domain), so the review queue shows evidence.
  await h.api.expect(200, 'PATCH', `/api/v1/programs/${program}`, { fraud_rules: { disposable_email: 'hold' } });
  const cara = await h.api.expect(201, 'POST', '/api/v1/affiliates', { email: 'cara@partners.test', name: 'Cara Partner', code: 'cara-layout', send_invite: false });
  await h.api.expect(200, 'PATCH', `/api/v1/affiliates/${cara.id}`, { status: 'active' });
  const referred = await h.api.call('POST', '/api/v1/referrals', { customer_id: 'cus_layout', code: 'cara-layout' });
  assert.ok([200, 201].includes(referred.status), JSON.stringify(referred.body));
  const sold = await h.api.call('POST', '/api/v1/events', {
    id: 'evt_layout_1', type: 'charge.succeeded', customer_id: 'cus_layout', amount_cents: 12000,
    currency: 'USD', charge_id: 'ch_layout_1', email: 'buyer@mailinator.com',
  });
  assert.ok([200, 201, 202].includes(sold.status), JSON.stringify(sold.body));
  const held = await h.api.get('/api/v1/fraud/reviews');
  assert.equal(held.data.length, 1, `one sale waits for review: ${JSON.stringify([referred.body, sold.body])}`);
  details.push('/dashboard/fraud');
  const hook = await h.api.expect(201, 'POST', '/api/v1/webhook-endpoints', { url: 'https://hooks.example.com/affilia/a/rather/long/path/for/the/layout', events: ['*'] });
  details.push(`/dashboard/developers/webhooks/${hook.id}`, `/dashboard/programs/${program}`, '/dashboard/programs/new',
    '/dashboard/affiliates/new', '/dashboard/developers/webhooks', '/dashboard/developers/consumers',
    '/dashboard/import', '/dashboard/accounting');
});

after(async () => {
  await stopVendorHarness(h);
});

describe('vendor dashboard layout', { timeout: 90000 }, () => {
  it('runs payouts through a confirmation naming the figures, then downloads the CSV', async () => {
    const flow = new Flow('layout-payouts', h.artifacts);
    const ctx = await newContext(h);
    const page = (flow.page = await ctx.newPage());
    await flow.step('sign in', () => signIn(h, page));
    await flow.step('ask for a run: the confirmation names count, money and scope', async () => {
      await page.goto(`${h.server.baseUrl}/dashboard/payouts`);
      await Promise.all([page.waitForURL(/\/dashboard\/payouts\/run$/), page.getByRole('button', { name: 'Run payouts…' }).click()]);
      const text = await visibleText(page);
      assert.match(text, /Run payouts\?/);
      assert.match(text, /This creates 2 payouts totalling 50\.00 USD for every active program/);
      await flow.screenshot('confirm-run');
      assert.equal((await h.api.get('/api/v1/payouts')).total, 0, 'nothing created before confirming');
    });
    let runUrl;
    await flow.step('confirm: the run is made', async () => {
      await Promise.all([page.waitForURL(/\/dashboard\/payouts\/runs\//), page.getByRole('button', { name: 'Run 2 payouts' }).click()]);
      runUrl = page.url();
      details.push(new URL(runUrl).pathname);
      assert.match(await visibleText(page), /ann@paypal\.test/);
      await flow.screenshot('run');
    });
    await flow.step('download the CSV', async () => {
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'All payouts (CSV)' }).click()]);
      const file = await download.path();
      const csv = fs.readFileSync(file, 'utf8');
      assert.match(csv, /ann@paypal\.test/);
      assert.match(csv, /ben@paypal\.test/);
      const payout = await page.locator('a[href^="/dashboard/payouts/pay_"], a[href^="/dashboard/payouts/po_"]').first().getAttribute('href').catch(() => null);
      if (payout) details.push(payout);
    });
    await flow.step('mark the run paid: the confirmation names count and total', async () => {
      await page.locator('input[name="reference"]').fill('PP-BATCH-1');
      await page.getByRole('button', { name: 'Mark all paid…' }).click();
      await page.waitForSelector('#confirm');
      const text = await visibleText(page);
      assert.match(text, /This marks 2 payouts/);
      assert.match(text, /50\.00 USD/);
      await flow.screenshot('confirm-paid');
      await Promise.all([page.waitForURL(/done=paid/), page.getByRole('button', { name: 'Mark 2 payouts paid' }).click()]);
      assert.match(await visibleText(page), /2 payouts marked as paid/);
    });
  });

  it('filters conversions with the affiliate picker (HTMX suggestions)', async () => {
    const flow = new Flow('layout-picker', h.artifacts);
    const ctx = await newContext(h);
    const page = (flow.page = await ctx.newPage());
    await flow.step('sign in', () => signIn(h, page));
    await flow.step('type a name, pick the suggestion, the table filters', async () => {
      await page.goto(`${h.server.baseUrl}/dashboard/conversions`);
      await page.getByPlaceholder('Affiliate: name or email').pressSequentially('Ann', { delay: 30 });
      const option = page.locator('.picker-option', { hasText: 'Ann Partner' });
      await option.waitFor();
      await flow.screenshot('suggestions');
      await option.click();
      await page.waitForURL(/affiliate_id=aff_/);
      await page.waitForFunction(() => /1 conversion\(s\)/.test(document.querySelector('#conversion-table')?.textContent || ''));
      assert.equal(await page.getByPlaceholder('Affiliate: name or email').inputValue(), 'Ann Partner (ann@partners.test)');
    });
  });

  it('shows a form error beside its field, in words', async () => {
    const flow = new Flow('layout-form-error', h.artifacts);
    const ctx = await newContext(h);
    const page = (flow.page = await ctx.newPage());
    await flow.step('sign in', () => signIn(h, page));
    await flow.step('a payout day of 45 is refused beside the field', async () => {
      await page.goto(`${h.server.baseUrl}/dashboard/programs/${h.vendor.program_id}`);
      await page.locator('input[name="payout_day"]').fill('45');
      await page.getByRole('button', { name: 'Save changes' }).click();
      const field = page.locator('input[name="payout_day"][aria-invalid="true"]');
      await field.waitFor();
      const note = page.locator('input[name="payout_day"] + .field-error');
      await note.waitFor();
      const words = await note.innerText();
      assert.match(words, /payout day/i);
      assert.doesNotMatch(words, /payout_day|null/);
      assert.equal(await field.getAttribute('aria-describedby'), await note.getAttribute('id'));
      await note.scrollIntoViewIfNeeded();
      await flow.screenshot('field-error');
    });
  });

  it('fits every dashboard page at 375 px and 1,280 px; the phone menu opens', async () => {
    const flow = new Flow('layout-pages', h.artifacts);
    const desktop = await newContext(h);
    const wide = (flow.page = await desktop.newPage());
    await flow.step('sign in (desktop)', () => signIn(h, wide));
    const nav = await wide.locator('.dash-topbar nav a[href^="/dashboard"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    assert.ok(nav.length >= 10, `nav links: ${nav}`);
    const pages = [...new Set([...nav, ...details])];

    await flow.step('1,280 px: one-line header, tables inside their cards', async () => {
      for (const p of pages) {
        await wide.goto(`${h.server.baseUrl}${p}`);
        await assertNoHorizontalScroll(wide, `${p} at 1280`);
        const bar = await wide.locator('.dash-topbar .topbar-inner').boundingBox();
        assert.ok(bar.height < 70, `${p}: header is ${bar.height}px tall (wrapped)`);
        // The nav itself on one line: no taller than one link (a second row of links
        // still fit the 70 px above).
        const navBox = await wide.locator('.dash-topbar nav.nav').boundingBox();
        const linkBox = await wide.locator('.dash-topbar nav.nav > a').first().boundingBox();
        assert.ok(navBox.height < linkBox.height * 1.8, `${p}: the nav wraps onto ${navBox.height}px`);
        const signOut = await wide.getByRole('button', { name: 'Sign out', exact: true }).boundingBox();
        assert.ok(signOut.height < 48, `${p}: "Sign out" wraps (${signOut.height}px)`);
        if (p === '/dashboard/conversions') {
          const spill = await wide.locator('.card').evaluateAll((cards) => cards.filter((c) => c.scrollWidth > c.clientWidth + 1).length);
          assert.equal(spill, 0, 'the conversions table fits its card at 1280');
          await flow.screenshot('conversions-1280', wide);
        }
        const shot = ['/dashboard', '/dashboard/payouts', '/dashboard/affiliates', '/dashboard/import', '/dashboard/accounting'].includes(p)
          || /^\/dashboard\/(programs|affiliates)\/(prg|aff)_[^/]+$/.test(p);
        if (shot) await flow.screenshot(`${p.replace(/\W+/g, '-')}-1280`, wide);
      }
    });
    await flow.step('1,280 px: "More" opens its menu', async () => {
      await wide.goto(`${h.server.baseUrl}/dashboard`);
      await wide.locator('.nav-more > summary').click();
      await wide.getByRole('link', { name: 'Developers' }).waitFor({ state: 'visible' });
      await flow.screenshot('more-menu-1280', wide);
    });

    const phoneCtx = await newContext(h, { viewport: PHONE });
    const phone = (flow.page = await phoneCtx.newPage());
    await flow.step('sign in (phone)', () => signIn(h, phone));
    await flow.step('375 px: the menu button opens the nav', async () => {
      await phone.goto(`${h.server.baseUrl}/dashboard`);
      const toggle = phone.getByRole('button', { name: 'Menu' });
      assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
      assert.equal(await phone.getByRole('link', { name: 'Payouts' }).isVisible(), false, 'nav collapsed');
      await toggle.click();
      assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
      await phone.getByRole('link', { name: 'Payouts' }).waitFor({ state: 'visible' });
      await flow.screenshot('menu-open-375', phone);
      await Promise.all([phone.waitForURL(/\/dashboard\/payouts$/), phone.getByRole('link', { name: 'Payouts' }).click()]);
    });
    await flow.step('375 px: no page scrolls sideways', async () => {
      const wideOnes = [];
      for (const p of pages) {
        await phone.goto(`${h.server.baseUrl}${p}`);
        const { scroll, width } = await phone.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
        if (scroll > width + 1) wideOnes.push(`${p} (${scroll}px)`);
        await flow.screenshot(`${p.replace(/\W+/g, '-')}-375`, phone);
      }
      assert.deepEqual(wideOnes, [], 'pages wider than the phone');
      await assertNoHorizontalScroll(phone, 'last page at 375');
    });
  });
});
