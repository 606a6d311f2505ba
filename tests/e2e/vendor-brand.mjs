// Vendor journey (issue 20, branding and portal polish): the vendor types a light brand
// colour in the settings' hex field and sees the contrast warning; the portal's buttons
// stay readable (their computed colours pass WCAG AA); an affiliate edits and archives a
// campaign link. Screenshots at 1280 and 375 px of the settings, portal home and links.
//
//   cargo build && node tests/e2e/vendor-brand.mjs

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Flow } from './lib/browser.mjs';
import { assertNoHorizontalScroll, newContext, signIn, startVendorHarness, stopVendorHarness } from './lib/vendor.mjs';

const LIGHT = '#fde68a';
const TIMEOUT = 60000;
let h;

/** `rgb(r, g, b)` → [r, g, b]. */
function rgb(css) {
  const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(css);
  assert.ok(m, `not a colour: ${css}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** WCAG 2.1 contrast ratio of two [r, g, b] colours. */
function contrast(a, b) {
  const lum = (c) => {
    const [r, g, bl] = c.map((v) => {
      const s = v / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

describe('vendor: branding and portal polish', () => {
  before(async () => {
    h = await startVendorHarness('vendor-brand');
    const programs = await h.api.get('/api/v1/programs');
    await h.api.expect(200, 'PATCH', `/api/v1/programs/${programs.data[0].id}`, {
      landing_url: 'https://shop.acme.test/',
    });
    const ada = await h.api.expect(201, 'POST', '/api/v1/affiliates', {
      email: 'ada@example.com',
      name: 'Ada Lovelace',
      send_invite: false,
    });
    await h.api.expect(200, 'PATCH', `/api/v1/affiliates/${ada.id}`, { status: 'active' });
    h.ada = ada.id;
  });

  after(async () => {
    await stopVendorHarness(h);
  });

  it('a light brand colour warns in settings and keeps portal buttons readable', { timeout: TIMEOUT }, async () => {
    const f = new Flow('vendor-brand-settings', h.artifacts);
    const ctx = await newContext(h);
    f.page = await ctx.newPage();
    await f.step('the owner signs in and opens Settings', async () => {
      await signIn(h, f.page);
      await f.page.goto(`${h.server.baseUrl}/dashboard/settings`);
    });
    await f.step(`typing ${LIGHT} in the hex field moves the picker and saves`, async () => {
      const hex = f.page.locator('input[name="primary_color"]');
      assert.equal(await hex.getAttribute('type'), null, 'a text field, not a bare swatch');
      await hex.fill(LIGHT);
      assert.equal(await f.page.locator('#primary_color_picker').inputValue(), LIGHT, 'picker follows');
      await Promise.all([
        f.page.waitForURL(/saved=settings/),
        f.page.getByRole('button', { name: 'Save settings' }).click(),
      ]);
    });
    await f.step('the page warns that the colour is too light, naming WCAG AA', async () => {
      const warning = await f.page.locator('[data-test="contrast-warning"]').innerText();
      assert.match(warning, /too light/);
      assert.match(warning, /4\.5:1/);
      assert.match(warning, /3:1/);
      assert.match(await f.page.locator('#primary_color_contrast').innerText(), /near-black/);
    });
    await f.screenshot('settings-1280');
    await f.page.setViewportSize({ width: 375, height: 800 });
    await f.step('settings fit a 375 px screen', () => assertNoHorizontalScroll(f.page, 'settings'));
    await f.screenshot('settings-375');

    const p = new Flow('vendor-brand-portal', h.artifacts);
    const actx = await newContext(h);
    p.page = await actx.newPage();
    await p.step('the affiliate opens a signed portal link', async () => {
      const link = await h.api.call('POST', `/api/v1/affiliates/${h.ada}/portal-link`, {});
      assert.ok([200, 201].includes(link.status), JSON.stringify(link.body));
      await p.page.goto(link.body.url);
      await p.page.locator('.portal-nav').first().waitFor({ state: 'visible' });
    });
    await p.screenshot('portal-home-1280');
    await p.step('a primary button in the brand colour has readable (dark) text', async () => {
      await p.page.goto(`${h.server.baseUrl}/p/${h.vendor.slug}/links`);
      const button = p.page.getByRole('button', { name: 'Create link' });
      const { bg, fg } = await button.evaluate((el) => {
        const s = getComputedStyle(el);
        return { bg: s.backgroundColor, fg: s.color };
      });
      assert.deepEqual(rgb(bg), [0xfd, 0xe6, 0x8a], `button background ${bg}`);
      const ratio = contrast(rgb(bg), rgb(fg));
      assert.ok(ratio >= 4.5, `button text ${fg} on ${bg}: ${ratio.toFixed(2)}:1 < 4.5:1`);
    });
    await p.step('links are written in a darker shade that reads on the page', async () => {
      // A plain link in the page's main area, styled by the real stylesheets.
      const link = await p.page.evaluate(() => {
        const a = document.createElement('a');
        a.href = '#';
        a.textContent = 'probe';
        document.querySelector('main').appendChild(a);
        const c = getComputedStyle(a).color;
        a.remove();
        return c;
      });
      const ratio = contrast(rgb(link), [0xf6, 0xf7, 0xf9]);
      assert.ok(ratio >= 4.5, `link colour ${link}: ${ratio.toFixed(2)}:1 on the page`);
    });
    await p.page.setViewportSize({ width: 375, height: 800 });
    await p.page.goto(`${h.server.baseUrl}/p/${h.vendor.slug}/`);
    await p.step('portal home fits 375 px', () => assertNoHorizontalScroll(p.page, 'portal home'));
    await p.screenshot('portal-home-375');
  });

  it('an affiliate creates, edits and archives a campaign link', { timeout: TIMEOUT }, async () => {
    const f = new Flow('vendor-brand-links', h.artifacts);
    const ctx = await newContext(h);
    f.page = await ctx.newPage();
    const links = `${h.server.baseUrl}/p/${h.vendor.slug}/links`;
    await f.step('signed in by portal link, on Links', async () => {
      const link = await h.api.call('POST', `/api/v1/affiliates/${h.ada}/portal-link`, {});
      await f.page.goto(link.body.url);
      await f.page.goto(links);
    });
    await f.step('creates "Spring newsletter"', async () => {
      await f.page.locator('input[name="name"]').fill('Spring newsletter');
      await f.page.getByRole('button', { name: 'Create link' }).click();
      await f.page.locator('[data-test="link"]', { hasText: 'Spring newsletter' }).waitFor({ state: 'visible' });
      assert.match(await f.page.locator('[data-test="link-stats"]').first().innerText(), /0 clicks/);
    });
    await f.step('a destination off the program site is refused beside the field', async () => {
      await Promise.all([f.page.waitForURL(/\/links\/lnk_/), f.page.locator('[data-test="link-edit"]').first().click()]);
      await f.page.locator('input[name="destination_url"]').fill('https://evil.test/');
      await f.page.getByRole('button', { name: 'Save link' }).click();
      const err = await f.page.locator('[data-test="field-error"]').innerText();
      assert.match(err, /program's domains/);
      assert.equal(await f.page.locator('input[name="destination_url"]').getAttribute('aria-invalid'), 'true');
    });
    await f.step('renames it and points it at a page of the shop', async () => {
      await f.page.locator('input[name="name"]').fill('Spring sale');
      await f.page.locator('input[name="destination_url"]').fill('https://shop.acme.test/spring');
      await Promise.all([f.page.waitForURL(/done=saved/), f.page.getByRole('button', { name: 'Save link' }).click()]);
      const row = f.page.locator('[data-test="link"]', { hasText: 'Spring sale' });
      assert.match(await row.innerText(), /shop\.acme\.test\/spring/);
    });
    await f.screenshot('links-1280');
    await f.page.setViewportSize({ width: 375, height: 800 });
    await f.step('links fit 375 px', () => assertNoHorizontalScroll(f.page, 'links'));
    await f.screenshot('links-375');
    await f.step('archives it: hidden from the list, listed under Archived links', async () => {
      await Promise.all([f.page.waitForURL(/done=archived/), f.page.locator('[data-test="link-archive"]').first().click()]);
      assert.match(await f.page.locator('[data-test="notice"]').innerText(), /keeps working/);
      assert.equal(await f.page.locator('[data-test="link"]').count(), 0);
      await Promise.all([f.page.waitForURL(/archived=1/), f.page.locator('[data-test="archived-link"]').click()]);
      assert.equal(await f.page.locator('[data-test="link"]').count(), 1);
    });
    await f.step('the archived link still redirects', async () => {
      const url = await f.page.locator('[data-test="link-url"]').first().innerText();
      const res = await fetch(url.trim(), { redirect: 'manual' });
      assert.equal(res.status, 302);
      assert.match(res.headers.get('location'), /^https:\/\/shop\.acme\.test\/spring\?/);
    });
    await f.screenshot('links-archived-375');
  });
});
