// Vendor journey: the Overview and Reports. Sign in, seed affiliates, clicks and sales
// through the API, read the figures and the chart on the Overview, switch the period, open
// Reports, sort, download the CSV and check its rows; at 1280 and 375 px, without sideways
// scrolling. Run: `cargo build && node tests/e2e/vendor-overview.mjs`.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { Flow, testText, until, visibleText } from './lib/browser.mjs';
import {
  assertNoHorizontalScroll, newContext, signIn, startVendorHarness, stopVendorHarness,
} from './lib/vendor.mjs';

const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';

let h;
before(async () => { h = await startVendorHarness('vendor-overview'); });
after(async () => { await stopVendorHarness(h); });

describe('vendor overview and reports', () => {
  it('shows the numbers and the chart, switches period, sorts and downloads a report', { timeout: 60000 }, async () => {
    const f = new Flow('vendor-overview', h.artifacts);
    const ids = {};
    await f.step('seed: a 10 % program, two affiliates, clicks and approved sales', async () => {
      const programs = await h.api.get('/api/v1/programs');
      const program = programs.data[0].id;
      await h.api.expect(200, 'PATCH', `/api/v1/programs/${program}`, {
        commission: { type: 'percentage', bps: 1000 }, landing_url: 'https://shop.acme.test/',
      });
      for (const [code, name] of [['ada', 'Ada Lovelace'], ['bob', 'Bob, "the builder"']]) {
        const a = await h.api.expect(201, 'POST', '/api/v1/affiliates', {
          email: `${code}@partners.test`, name, code, send_invite: false,
        });
        await h.api.expect(200, 'PATCH', `/api/v1/affiliates/${a.id}`, { status: 'active' });
        ids[code] = a.id;
      }
      for (const code of ['ada', 'ada', 'bob']) {
        const r = await fetch(`${h.server.baseUrl}/r/${code}`, {
          redirect: 'manual', headers: { 'User-Agent': UA, 'X-Forwarded-For': `203.0.113.${code.length}` },
        });
        assert.equal(r.status, 302);
      }
      for (const [code, cents, ext] of [['ada', 12000, 'a1'], ['ada', 3000, 'a2'], ['bob', 5000, 'b1']]) {
        const c = await h.api.expect(201, 'POST', '/api/v1/conversions', {
          affiliate_id: ids[code], amount_cents: cents, external_id: ext,
        });
        await h.api.expect(200, 'POST', `/api/v1/conversions/${c.id}/approve`);
      }
    });

    const ctx = await newContext(h);
    const page = await ctx.newPage();
    f.page = page;
    await f.step('sign in: the Overview shows the last 30 days', async () => {
      await signIn(h, page);
      await page.goto(`${h.server.baseUrl}/dashboard`);
      assert.match(await visibleText(page), /Figures, last 30 days/);
    });
    await f.step('the figures are the seeded ones, new against the previous period', async () => {
      await until(async () => (await testText(page, 'conversions')).startsWith('3'), {
        message: () => 'three conversions shown',
      });
      assert.match(await testText(page, 'revenue'), /200\.00 USD\s+new/);
      assert.match(await testText(page, 'available'), /20\.00 USD/);
      assert.match(await testText(page, 'clicks'), /^\d+\s+new/);
    });
    await f.step('the chart is an accessible SVG with a table fallback', async () => {
      const svg = page.locator('svg[role="img"]');
      assert.equal(await svg.count(), 1);
      assert.match(await svg.locator('title').first().textContent(), /Clicks and revenue per day/);
      await page.locator('summary', { hasText: 'Show the figures as a table' }).click();
      assert.match(await visibleText(page), /Revenue/);
    });
    await f.step('top affiliates link to each affiliate', async () => {
      const first = page.locator('[data-test="top-affiliates"] tbody tr').first();
      assert.match(await first.textContent(), /Ada Lovelace/);
      assert.equal(await first.locator('a').getAttribute('href'), `/dashboard/affiliates/${ids.ada}`);
    });
    await assertNoHorizontalScroll(page);
    await f.screenshot('overview-1280');

    await f.step('switch to 90 days: the URL and the heading follow', async () => {
      await page.locator('nav[aria-label="Period"] a', { hasText: '90 days' }).click();
      await page.waitForURL(/period=90d/);
      assert.match(await visibleText(page), /Figures, last 90 days/);
    });
    await f.step('a bad custom period shows a message, not an error page', async () => {
      await page.goto(`${h.server.baseUrl}/dashboard?from=2026-02-30`);
      assert.match(await visibleText(page), /from must be a date.*Showing the last 30 days instead/s);
    });

    await f.step('Reports: per affiliate, most revenue first; sort by clicks', async () => {
      await page.locator('nav a', { hasText: 'Reports' }).first().click();
      await page.waitForURL(/\/dashboard\/reports/);
      const rows = page.locator('[data-test="report"] tbody tr');
      assert.equal(await rows.count(), 2);
      assert.match(await rows.first().textContent(), /Ada Lovelace[\s\S]*150\.00 USD/);
      await page.locator('th a', { hasText: 'Clicks' }).click();
      await page.waitForURL(/sort=-clicks/);
      assert.equal(await page.locator('th[aria-sort="descending"]').textContent(), 'Clicks ↓');
    });
    await assertNoHorizontalScroll(page);
    await f.screenshot('reports-1280');
    await f.step('Download CSV: the same rows, quoted', async () => {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.locator('[data-test="report-csv"]').click(),
      ]);
      const file = await download.path();
      const text = fs.readFileSync(file, 'utf8');
      const lines = text.split('\r\n');
      assert.equal(lines[0], 'affiliate_id,name,email,clicks,conversions,revenue,commission,currency');
      assert.ok(lines.includes(`${ids.bob},"Bob, ""the builder""",bob@partners.test,1,1,50.00,5.00,USD`), text);
      assert.ok(lines.some((l) => l.startsWith(`${ids.ada},Ada Lovelace,ada@partners.test,`) && l.endsWith(',2,150.00,15.00,USD')), text);
    });

    const phone = await newContext(h, { viewport: { width: 375, height: 800 } });
    const small = await phone.newPage();
    await f.step('at 375 px: Overview and Reports do not scroll sideways', async () => {
      await signIn(h, small);
      for (const p of ['/dashboard', '/dashboard/reports', '/dashboard/affiliates']) {
        await small.goto(`${h.server.baseUrl}${p}`);
        await assertNoHorizontalScroll(small, p);
      }
    });
    await small.goto(`${h.server.baseUrl}/dashboard`);
    await f.screenshot('overview-375', small);
    await small.goto(`${h.server.baseUrl}/dashboard/reports`);
    await f.screenshot('reports-375', small);
  });
});
