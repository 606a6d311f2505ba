// Browser tests of the branded affiliate portal: the real `affilia serve` (debug build) on a
// fresh SQLite database, a Node SMTP sink for its emails, and Debian's Chromium driven by
// playwright-core. Run from the repository root:
//
//   npm ci --prefix tests/e2e && node tests/e2e/run.mjs
//
// Flows: A branding + custom domain, B magic-link sign-in on the custom domain (dashboard
// figures, campaign links, sign-out, used link), C signed portal link, D iframe embed
// (allowed and refused origins), E mobile layout, F Stripe webhooks signed by the official
// `stripe` npm package (generateTestHeaderString), G kernel JWTs signed by the `jsonwebtoken`
// npm package, W an outbound webhook verified with the official `standardwebhooks` npm
// package. Screenshots go to tests/e2e/artifacts/
// (or $E2E_ARTIFACTS) together with the server log.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { AffiliaServer, E2E_DIR, ensureBinary, freePort } from './lib/app.mjs';
import { Flow, HostApp, launch, moneyPattern, testText, until, visibleText } from './lib/browser.mjs';
import { SmtpSink } from './lib/smtp-sink.mjs';
import Stripe from 'stripe';
import { Webhook } from 'standardwebhooks';
import crypto from 'node:crypto';
import http from 'node:http';
import jwt from 'jsonwebtoken';

const PORTAL_HOST = 'affiliates.acme.test';
const PORTAL_NAME = 'Acme Partners';
const BRAND = '#0a7d48';
const VENDOR_NAME = 'Acme Inc';
const FLOW_TIMEOUT = 60000;

const artifacts = path.resolve(process.env.E2E_ARTIFACTS || path.join(E2E_DIR, 'artifacts'));
fs.mkdirSync(artifacts, { recursive: true });

/** Everything the flows share. */
const h = {};

/** `http://affiliates.acme.test:<port><p>`. */
const portal = (p = '/') => `http://${PORTAL_HOST}:${h.server.port}${p}`;

/** A browser context (desktop unless told otherwise) whose pages are closed with it. */
async function context(options = {}) {
  const ctx = await h.browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  ctx.setDefaultTimeout(10000);
  ctx.setDefaultNavigationTimeout(15000);
  h.contexts.push(ctx);
  return ctx;
}

/** Asserts that the current page is the signed-in portal dashboard on the custom domain. */
async function assertDashboard(page, { cents, code }) {
  await until(() => new URL(page.url()).pathname === '/', {
    message: () => `expected the dashboard at ${portal('/')}, got ${page.url()}`,
  });
  assert.equal(new URL(page.url()).host, `${PORTAL_HOST}:${h.server.port}`, 'dashboard host');
  const earnings = await testText(page, 'earnings');
  const pending = await testText(page, 'balance-pending');
  const referral = await testText(page, 'referral-link');
  const link = page.locator('[data-test="referral-link"]').first();
  const referralHrefOrValue = `${referral} ${(await link.getAttribute('href')) || ''} ${(await link.getAttribute('value')) || ''} ${
    (await link.evaluate((el) => el.value || el.querySelector('input')?.value || '')) || ''
  }`;
  if (cents !== undefined) {
    assert.match(earnings, moneyPattern(cents), `earnings "${earnings}" should show ${cents} cents`);
    assert.match(pending, moneyPattern(cents), `pending balance "${pending}" should show ${cents} cents`);
  }
  // The referral link works on the portal's own domain (with the server's port).
  assert.ok(
    referralHrefOrValue.includes(portal(`/r/${code}`)),
    `referral link should contain ${portal(`/r/${code}`)}, shows "${referralHrefOrValue.trim()}"`,
  );
  return { earnings, pending, referral };
}

/** `POST /api/v1/affiliates/{id}/portal-link` → `{url, expires_at}` (200 or 201). */
async function portalLink(affiliateId) {
  const r = await h.api.call('POST', `/api/v1/affiliates/${affiliateId}/portal-link`, {});
  assert.ok([200, 201].includes(r.status), `portal-link → ${r.status} ${JSON.stringify(r.body)}`);
  assert.ok(r.body.url && r.body.expires_at, JSON.stringify(r.body));
  return r.body;
}

/** Submits the portal's sign-in form with `email`; resolves to the visible message. */
async function requestSignInLink(page, email) {
  const res = await page.goto(portal('/login'));
  assert.equal(res.status(), 200, `GET /login status`);
  const input = page.locator('input[name="email"]');
  await input.waitFor({ state: 'visible' });
  await input.fill(email);
  const form = page.locator('form:has(input[name="email"])').first();
  const mainText = async () => {
    const main = page.locator('main').first();
    return ((await main.count()) ? await main.innerText() : await visibleText(page)).replace(/\s+/g, ' ').trim();
  };
  const before = await mainText();
  const posted = page.waitForResponse((r) => r.request().method() === 'POST');
  await form.locator('button[type="submit"], button:not([type]), input[type="submit"]').first().click();
  const answer = await posted;
  assert.ok(answer.status() < 400, `POST ${new URL(answer.url()).pathname} → ${answer.status()}`);
  await page.waitForLoadState('load');
  // The answer replaces the page or swaps in place (HTMX): wait until the text changed.
  await until(async () => (await mainText()) !== before, {
    message: async () => `the page did not change after submitting; it shows: ${await mainText()}`,
  });
  return mainText();
}

before(async () => {
  h.contexts = [];
  const bin = ensureBinary();
  h.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affilia-e2e-'));
  h.sink = new SmtpSink();
  await h.sink.start();
  const logFile = path.join(artifacts, 'affilia.log');
  fs.rmSync(logFile, { force: true });
  for (const f of fs.readdirSync(artifacts)) if (f.endsWith('.png')) fs.rmSync(path.join(artifacts, f));
  h.server = new AffiliaServer({ bin, tmp: h.tmp, smtpPort: h.sink.port, logFile });
  await h.server.start();
  console.log(`# affilia serve on ${h.server.baseUrl} (portal domain ${portal('/')}), SMTP sink on ${h.sink.port}`);

  // Vendor and a full-scope key through the CLI, against the running server's database.
  h.vendor = h.server.createVendor({
    name: VENDOR_NAME,
    ownerEmail: 'owner@acme.test',
    ownerPassword: 'correct horse battery',
  });
  h.key = h.server.createApiKey({ vendor: h.vendor.slug, name: 'e2e' });
  h.api = h.server.api(h.key);

  // The vendor's app, twice: one origin allowed to frame the embeds, one not.
  h.allowedApp = new HostApp();
  h.otherApp = new HostApp();
  await h.allowedApp.start(await freePort());
  await h.otherApp.start(await freePort());

  // An active affiliate with a conversion, for the flows that do not sign in by email
  // (C, D, E), so they stand on their own.
  const grace = await h.api.expect(201, 'POST', '/api/v1/affiliates', {
    email: 'grace@example.com',
    name: 'Grace Hopper',
    send_invite: false,
  });
  await h.api.expect(200, 'PATCH', `/api/v1/affiliates/${grace.id}`, { status: 'active' });
  const conv = await h.api.expect(201, 'POST', '/api/v1/conversions', {
    affiliate_id: grace.id,
    amount_cents: 12345,
    external_id: 'e2e-grace-1',
  });
  assert.equal(conv.commission_cents, 2469, 'default program pays 20 % of 123.45');
  const detail = await h.api.get(`/api/v1/affiliates/${grace.id}`);
  h.grace = { id: grace.id, code: detail.enrollments[0].code, cents: conv.commission_cents };

  h.browser = await launch(`MAP ${PORTAL_HOST} 127.0.0.1`);
});

after(async () => {
  for (const c of h.contexts || []) await c.close().catch(() => {});
  await h.browser?.close().catch(() => {});
  await h.server?.stop().catch(() => {});
  await h.sink?.stop().catch(() => {});
  await h.allowedApp?.stop().catch(() => {});
  await h.otherApp?.stop().catch(() => {});
  if (h.tmp && !process.env.E2E_KEEP) fs.rmSync(h.tmp, { recursive: true, force: true });
  else if (h.tmp) console.log(`# kept ${h.tmp} (database e2e.db)`);
  if (Flow.failures > 0 && h.server) {
    console.log(`# last lines of the server log:\n${h.server.logTail(30).replace(/^/gm, '#   ')}`);
  }
  console.log(`# artifacts (screenshots, affilia.log): ${artifacts}`);
});

describe('affiliate portal in Chromium', () => {
  it('harness: CLI vendor and key, API, portal under /p/<slug>/', { timeout: FLOW_TIMEOUT }, async () => {
    const f = new Flow('H-harness', artifacts);
    const vendor = await f.step('GET /api/v1/vendor with the CLI key', () => h.api.get('/api/v1/vendor'));
    assert.equal(vendor.id, h.vendor.vendor_id);
    assert.equal(vendor.slug, h.vendor.slug);
    assert.equal(vendor.name, VENDOR_NAME);
    const ctx = await context();
    f.page = await ctx.newPage();
    await f.step(`open ${h.server.baseUrl}/p/${h.vendor.slug}/`, async () => {
      const res = await f.page.goto(`${h.server.baseUrl}/p/${h.vendor.slug}/`);
      assert.equal(res.status(), 200);
      assert.match(await visibleText(f.page), /Acme/);
    });
    await f.screenshot();
  });

  it('A: branding and custom portal domain', { timeout: FLOW_TIMEOUT }, async () => {
    const f = new Flow('A-branding', artifacts);
    const ctx = await context();
    f.page = await ctx.newPage();
    await f.step(`before: ${portal('/')} is not served (404)`, async () => {
      const res = await f.page.goto(portal('/'));
      assert.equal(res.status(), 404);
    });
    const patch = {
      portal_name: PORTAL_NAME,
      primary_color: BRAND,
      portal_domains: [PORTAL_HOST],
      embed_origins: [h.allowedApp.origin],
    };
    const r = await f.step('PATCH /api/v1/vendor (name, colour, domain, embed origin)', async () => {
      const res = await h.api.call('PATCH', '/api/v1/vendor', patch);
      if (res.status !== 200) {
        // Later flows need the domain even when this one fails: add it the old way.
        h.server.cli(['admin', 'add-domain', '--vendor', h.vendor.slug, '--host', PORTAL_HOST, '--verified']);
        h.domainFallback = true;
      }
      assert.equal(res.status, 200, `PATCH /api/v1/vendor → ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    });
    await f.step('the answer and GET /api/v1/vendor show the new settings', async () => {
      const now = await h.api.get('/api/v1/vendor');
      for (const v of [r, now]) {
        assert.equal(v.portal_name, PORTAL_NAME);
        assert.equal(String(v.primary_color).toLowerCase(), BRAND);
        // Each domain is a host name or an object describing it (`{host, dns, ...}`).
        assert.deepEqual(
          v.portal_domains.map((d) => (typeof d === 'string' ? d : d.host)),
          [PORTAL_HOST],
        );
        assert.deepEqual(v.embed_origins, [h.allowedApp.origin]);
      }
    });
    await f.step(`${PORTAL_HOST} is pending until its TXT record is verified`, async () => {
      const d = r.portal_domains.find((x) => x.host === PORTAL_HOST);
      assert.equal(d.verified, false);
      assert.equal(d.verification.name, `_affilia-challenge.${PORTAL_HOST}`);
      assert.match(d.verification.value, /^affilia-verify=[0-9a-f]{32}$/);
      const res = await f.page.goto(portal('/'));
      assert.equal(res.status(), 404, 'a pending domain serves nothing');
      // The operator vouches for it (the cargo suite covers the DNS check itself).
      h.server.cli(['admin', 'verify-domain', PORTAL_HOST]);
    });
    await f.step(`${portal('/')} shows "${PORTAL_NAME}" in the brand colour`, async () => {
      const res = await f.page.goto(portal('/'));
      assert.ok(res.status() < 400, `status ${res.status()}`);
      assert.equal(new URL(f.page.url()).host, `${PORTAL_HOST}:${h.server.port}`, 'stays on the portal domain');
      await f.page.getByText(PORTAL_NAME).first().waitFor({ state: 'visible' });
      const brand = await f.page.evaluate(() =>
        getComputedStyle(document.documentElement).getPropertyValue('--brand').trim().toLowerCase(),
      );
      assert.equal(brand, BRAND, '--brand CSS variable');
    });
    await f.screenshot();
  });

  it('B: magic-link sign-in of an invited affiliate on the custom domain', { timeout: FLOW_TIMEOUT }, async () => {
    const f = new Flow('B-magic-link', artifacts);
    const ada = await f.step('POST /api/v1/affiliates invites Ada', async () => {
      const before = h.sink.messages.length;
      const a = await h.api.expect(201, 'POST', '/api/v1/affiliates', { email: 'ada@example.com', name: 'Ada' });
      assert.equal(a.status, 'invited');
      const invite = await h.sink.waitFor('ada@example.com', { after: before });
      console.log(`#   [B] invitation email "${invite.subject}" links: ${invite.links().join(' ')}`);
      const detail = await h.api.get(`/api/v1/affiliates/${a.id}`);
      return { id: a.id, code: detail.enrollments[0].code };
    });

    const ctx = await context();
    f.page = await ctx.newPage();
    const mailsBefore = h.sink.messages.length;
    const adaMessage = await f.step('request a sign-in link for ada@example.com', async () => {
      const text = await requestSignInLink(f.page, 'ada@example.com');
      assert.match(text, /email/i, 'the answer speaks of an email');
      return text;
    });
    await f.screenshot('check-email');
    await f.step('an unknown address gets the very same answer', async () => {
      const other = await (await context()).newPage();
      const text = await requestSignInLink(other, 'nobody@example.com');
      const neutral = (t, email) => t.split(email).join('<email>');
      assert.equal(neutral(text, 'nobody@example.com'), neutral(adaMessage, 'ada@example.com'));
    });
    const link = await f.step('the sign-in email to Ada links to the custom domain', async () => {
      const mail = await h.sink.waitFor('ada@example.com', { after: mailsBefore });
      const links = mail.links().filter((l) => l.includes('/login/link/'));
      assert.ok(links.length > 0, `no /login/link/ link in "${mail.subject}": ${mail.text.slice(0, 500)}`);
      assert.match(links[0], new RegExp(`^${portal('/login/link/').replace(/[.]/g, '\\.')}[A-Za-z0-9_-]+$`));
      return links[0];
    });
    await f.step('opening the link shows a confirmation button; clicking it signs Ada in', async () => {
      const res = await f.page.goto(link);
      assert.equal(res.status(), 200);
      const form = f.page.locator('form[method="post" i]:not(:has(input[name="email"]))').first();
      const button = form.locator('button[type="submit"], button:not([type]), input[type="submit"]').first();
      await button.waitFor({ state: 'visible' });
      await Promise.all([f.page.waitForURL((u) => !u.pathname.startsWith('/login/')), button.click()]);
      await assertDashboard(f.page, { code: ada.code });
    });
    await f.step('signing in made the invited affiliate active', async () => {
      const a = await h.api.get(`/api/v1/affiliates/${ada.id}`);
      assert.equal(a.status, 'active');
    });
    const cents = await f.step('a 308.50 conversion earns 61.70 (20 %), also in /api/v1/commissions', async () => {
      const c = await h.api.expect(201, 'POST', '/api/v1/conversions', {
        affiliate_id: ada.id,
        amount_cents: 30850,
        external_id: 'e2e-ada-1',
      });
      assert.equal(c.commission_cents, 6170);
      const list = await h.api.get(`/api/v1/commissions?affiliate_id=${ada.id}`);
      const total = list.data.reduce((sum, x) => sum + x.amount_cents, 0);
      assert.equal(total, 6170);
      return total;
    });
    await f.step('the dashboard shows earnings, pending balance and the referral link', async () => {
      await f.page.reload();
      const shown = await assertDashboard(f.page, { cents, code: ada.code });
      console.log(`#   [B] dashboard: ${JSON.stringify(shown)}`);
    });
    await f.screenshot('dashboard');
    const linkName = 'Spring launch';
    await f.step('Links: create a campaign link and see it listed', async () => {
      const nav = f.page.getByRole('navigation').getByRole('link', { name: /^\s*links\s*$/i }).first();
      await Promise.all([f.page.waitForURL(/\/links$/), nav.click()]);
      const form = f.page.locator('form:has(input[name="name"])').first();
      await form.locator('input[name="name"]').fill(linkName);
      const slug = form.locator('input[name="slug"]');
      if (await slug.count()) await slug.fill('spring-launch');
      await form.locator('button[type="submit"], button:not([type]), input[type="submit"]').first().click();
      await until(async () => (await visibleText(f.page)).includes(`/r/${ada.code}/spring-launch`), {
        message: async () => `the link list does not show /r/${ada.code}/spring-launch: ${await visibleText(f.page)}`,
      });
      // Listed, not just announced: a fresh visit of the page (no "created" notice) shows it.
      await f.page.goto(portal('/links'));
      const listed = await visibleText(f.page);
      assert.ok(
        listed.includes(linkName) && listed.includes(portal(`/r/${ada.code}/spring-launch`)),
        `the links page does not list "${linkName}" with ${portal(`/r/${ada.code}/spring-launch`)}: ${listed}`,
      );
      // The same link through the self-service API.
      const { token } = await h.api.expect(201, 'POST', `/api/v1/affiliates/${ada.id}/token`, {});
      const me = await fetch(`${h.server.apiUrl}/api/v1/me/links`, { headers: { Authorization: `Bearer ${token}` } });
      const body = await me.json();
      assert.ok(
        (body.data || body).some((l) => l.name === linkName && l.slug === 'spring-launch'),
        `GET /api/v1/me/links: ${JSON.stringify(body)}`,
      );
    });
    await f.screenshot('links');
    await f.step('Sign out leads to /login; the dashboard pages are gone', async () => {
      await Promise.all([
        f.page.waitForURL((u) => u.pathname === '/login'),
        f.page.getByRole('button', { name: 'Sign out' }).first().click(),
      ]);
      // `/` is the public landing page for visitors: no figures, no account, a way to sign in.
      await f.page.goto(portal('/'));
      assert.equal(await f.page.locator('[data-test="earnings"]').count(), 0, 'figures shown after sign-out');
      assert.ok(!(await visibleText(f.page)).includes('ada@example.com'), 'the account is still shown');
      await f.page.locator('a[href="/login"]').first().waitFor({ state: 'visible' });
      // A page of the dashboard sends visitors to sign in.
      await f.page.goto(portal('/links'));
      assert.equal(new URL(f.page.url()).pathname, '/login', `/links after sign-out went to ${f.page.url()}`);
    });
    await f.step('the used link answers 410 with a form for a new link', async () => {
      const res = await f.page.goto(link);
      assert.equal(res.status(), 410);
      await f.page.locator('form input[name="email"]').first().waitFor({ state: 'visible' });
    });
    await f.screenshot('used-link');
    await f.step('nobody@example.com got no email', async () => {
      assert.deepEqual(
        h.sink.to('nobody@example.com').map((m) => m.subject),
        [],
      );
    });
  });

  it('C: signed portal link signs the affiliate in', { timeout: FLOW_TIMEOUT }, async () => {
    const f = new Flow('C-portal-link', artifacts);
    const link = await f.step('POST /api/v1/affiliates/{id}/portal-link', async () => {
      const body = await portalLink(h.grace.id);
      const hours = (Date.parse(body.expires_at) - Date.now()) / 3600e3;
      assert.ok(hours > 23 && hours <= 24.01, `expires in ${hours.toFixed(2)} h`);
      return body.url;
    });
    const ctx = await context();
    f.page = await ctx.newPage();
    await f.step(`a fresh browser opening ${link.replace(/[^/]+$/, '…')} lands on the dashboard`, async () => {
      await f.page.goto(link);
      await assertDashboard(f.page, { cents: h.grace.cents, code: h.grace.code });
    });
    await f.screenshot();
  });

  it('D: embedded dashboard in an iframe of an allowed origin only', { timeout: FLOW_TIMEOUT }, async () => {
    const f = new Flow('D-embed', artifacts);
    const embed = async () => {
      const r = await h.api.call('POST', `/api/v1/affiliates/${h.grace.id}/embed-token`, { surface: 'dashboard' });
      assert.ok([200, 201].includes(r.status), `→ ${r.status} ${JSON.stringify(r.body)}`);
      assert.ok(r.body.token && r.body.url && r.body.expires_at, JSON.stringify(r.body));
      assert.ok(r.body.url.includes(r.body.token), 'the URL carries the token');
      return r.body;
    };
    const first = await f.step('POST /api/v1/affiliates/{id}/embed-token', embed);
    const ctx = await context();
    f.page = await ctx.newPage();
    await f.step(`framed by ${h.allowedApp.origin} (allowed): the frame shows the figures`, async () => {
      h.allowedApp.iframeSrc = first.url;
      const embedPath = new URL(first.url).pathname;
      const response = f.page.waitForResponse((r) => new URL(r.url()).pathname === embedPath);
      await f.page.goto(`${h.allowedApp.origin}/`);
      const res = await response;
      assert.equal(res.status(), 200, `embed status`);
      const csp = res.headers()['content-security-policy'] || '';
      const ancestors = csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .find((d) => d[0] === 'frame-ancestors');
      assert.deepEqual(ancestors?.slice(1), [h.allowedApp.origin], `frame-ancestors in "${csp}"`);
      const frame = f.page.frameLocator('iframe#partner');
      const earnings = await testText(frame, 'earnings');
      assert.match(earnings, moneyPattern(h.grace.cents), `embedded earnings "${earnings}"`);
    });
    await f.screenshot('allowed');
    await f.step('links embed in the same frame: edit a link, archive it, restore it', async () => {
      const { token } = await h.api.expect(201, 'POST', `/api/v1/affiliates/${h.grace.id}/token`, {});
      const made = await fetch(`${h.server.apiUrl}/api/v1/me/links`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'Newsletter', slug: 'newsletter' }),
      });
      assert.equal(made.status, 201, `POST /api/v1/me/links → ${made.status} ${await made.text()}`);
      const r = await h.api.call('POST', `/api/v1/affiliates/${h.grace.id}/embed-token`, { surface: 'links' });
      assert.ok([200, 201].includes(r.status), `links embed token → ${r.status}`);
      h.allowedApp.iframeSrc = r.body.url;
      await f.page.goto(`${h.allowedApp.origin}/`);
      const frame = f.page.frameLocator('iframe#partner');
      const row = () => frame.locator('[data-test="link"]', { hasText: 'Newsletter' });
      await row().locator('[data-test="link-edit"]').click();
      await frame.locator('input[name="name"]').fill('Newsletter (December)');
      await f.screenshot('link-edit');
      await frame.getByRole('button', { name: 'Save link' }).click();
      await until(async () => (await row().count()) === 1 && (await row().innerText()).includes('Newsletter (December)'), {
        message: async () => `the frame's list does not show the renamed link: ${await frame.locator('body').innerText()}`,
      });
      await f.screenshot('links-renamed');
      await row().locator('[data-test="link-archive"]').click();
      await until(async () => (await row().count()) === 0, { message: () => 'the archived link is still listed' });
      await frame.locator('[data-test="archived-link"]').click();
      await row().locator('[data-test="link-archive"]').click();
      await until(async () => (await row().count()) === 1 && (await frame.locator('[data-test="archived-link"]').count()) === 0, {
        message: async () => `the restored link is not back: ${await frame.locator('body').innerText()}`,
      });
      const links = await fetch(`${h.server.apiUrl}/api/v1/me/links`, { headers: { Authorization: `Bearer ${token}` } });
      const listed = ((await links.json()).data || []).find((l) => l.slug === 'newsletter');
      assert.equal(listed?.name, 'Newsletter (December)', 'the API sees the rename');
      assert.equal(listed?.archived, false, 'the API sees the link restored');
    });
    await f.step(`framed by ${h.otherApp.origin} (not allowed): Chromium blocks the frame`, async () => {
      const second = await embed();
      h.otherApp.iframeSrc = second.url;
      await f.page.goto(`${h.otherApp.origin}/`);
      const frame = await until(() => f.page.frames().find((fr) => fr !== f.page.mainFrame()), {
        message: () => 'no iframe on the host page',
      });
      await until(() => frame.url() === 'chrome-error://chromewebdata/', {
        timeout: 5000,
        message: () => `the frame was not blocked: it is at ${frame.url()}`,
      });
      assert.equal(await frame.locator('[data-test="earnings"]').count(), 0);
    });
    await f.screenshot('blocked');
  });

  it('E: mobile layout at 375×740', { timeout: FLOW_TIMEOUT }, async () => {
    const f = new Flow('E-mobile', artifacts);
    const { url } = await f.step('a portal link for the affiliate', () => portalLink(h.grace.id));
    const ctx = await context({
      viewport: { width: 375, height: 740 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    f.page = await ctx.newPage();
    // Measured on each page, asserted at the end so that one overflow does not hide the rest.
    const overflow = [];
    const measure = async (what) => {
      const { width, culprits } = await f.page.evaluate(() => {
        // The innermost elements sticking out to the right, to say what overflows.
        const out = [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > 376);
        const innermost = out.filter((el) => !out.some((o) => o !== el && el.contains(o)));
        const name = (el) =>
          `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${[...el.classList].map((c) => `.${c}`).join('')}` +
          ` (right ${Math.round(el.getBoundingClientRect().right)}px: "${(el.textContent || '').trim().slice(0, 30)}")`;
        return { width: document.documentElement.scrollWidth, culprits: innermost.slice(0, 5).map(name) };
      });
      console.log(`#   [E] ${what}: scrollWidth ${width}`);
      if (width > 376) overflow.push(`${what}: scrollWidth ${width} > 375; sticking out: ${culprits.join(', ')}`);
    };
    await f.step('sign in with the portal link on a phone', async () => {
      await f.page.goto(url);
      await assertDashboard(f.page, { cents: h.grace.cents, code: h.grace.code });
      await measure('dashboard');
    });
    await f.screenshot('dashboard');
    await f.step('the navigation reaches Links (through the menu button if collapsed)', async () => {
      const nav = f.page.getByRole('navigation').first();
      const links = nav.getByRole('link', { name: /^\s*links\s*$/i }).first();
      if (!(await links.isVisible())) {
        const toggle = f.page.getByRole('button', { name: /menu|navigation/i }).first();
        await toggle.click();
        await links.waitFor({ state: 'visible' });
      }
      const box = await links.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `Links item off-screen: ${JSON.stringify(box)}`);
      await Promise.all([f.page.waitForURL(/\/links$/), links.tap()]);
      await f.page.locator('input[name="name"]').first().waitFor({ state: 'visible' });
      await measure('links page');
    });
    await f.screenshot('links');
    await f.step('no page is wider than the screen', () => {
      assert.ok(overflow.length === 0, overflow.join('; '));
    });
  });
});

describe("Stripe's own signer", () => {
  it('F: a basil invoice and its charge signed by the stripe npm package are one conversion', { timeout: FLOW_TIMEOUT }, async () => {
    const stripe = new Stripe('sk_test_unused_by_this_check');
    const secret = 'whsec_e2e_official_signer_0123456789';
    const programs = await h.api.get('/api/v1/programs');
    const program = programs.data[0];
    await h.api.expect(200, 'PATCH', `/api/v1/programs/${program.id}`, { stripe_webhook_secret: secret });
    const customer = 'cus_e2e_signer';
    await h.api.expect(201, 'POST', '/api/v1/referrals', { customer_id: customer, code: h.grace.code });
    const now = Math.floor(Date.now() / 1000);
    const event = (id, type, object) =>
      JSON.stringify({ id, object: 'event', api_version: '2025-03-31.basil', created: now, type, data: { object } });
    const invoice = event('evt_e2e_invoice', 'invoice.paid', {
      id: 'in_e2e', object: 'invoice', customer, amount_paid: 4900, currency: 'usd', status: 'paid',
      parent: { type: 'subscription_details', subscription_details: { subscription: 'sub_e2e', metadata: {} } },
      status_transitions: { paid_at: now },
    });
    const charge = event('evt_e2e_charge', 'charge.succeeded', {
      id: 'ch_e2e', object: 'charge', customer, amount: 4900, currency: 'usd', payment_intent: 'pi_e2e',
      status: 'succeeded', paid: true, created: now, metadata: {},
    });
    const post = async (payload, header) => {
      const res = await fetch(`${h.server.baseUrl}/webhooks/stripe/${program.id}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Stripe-Signature': header },
        body: payload,
      });
      return { status: res.status, body: await res.json().catch(() => null) };
    };
    const sign = (payload, s = secret) => stripe.webhooks.generateTestHeaderString({ payload, secret: s });
    // Our verifier accepts what Stripe's library signs, and Stripe's library accepts ours' input.
    const first = await post(invoice, sign(invoice));
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.status, 'processed', JSON.stringify(first.body));
    const header = sign(charge);
    stripe.webhooks.constructEvent(charge, header, secret);
    const second = await post(charge, header);
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body.conversion_id, first.body.conversion_id, 'the charge is the invoice’s payment');
    // A signature by another secret is refused, and nothing is recorded.
    const forged = event('evt_e2e_forged', 'charge.succeeded', { id: 'ch_forged', customer, amount: 100, currency: 'usd' });
    const refused = await post(forged, sign(forged, 'whsec_someone_else_0000000000'));
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    const list = await h.api.get(`/api/v1/conversions?customer_id=${customer}`);
    assert.equal(list.total, 1, JSON.stringify(list));
    assert.equal(list.data[0].commission_cents, 980);
  });
});

/** A local HTTP receiver that records each request's raw body and headers. */
async function webhookReceiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), path: req.url });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
    });
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { got, url: `http://127.0.0.1:${port}/hooks/affilia`, stop: () => new Promise((r) => server.close(r)) };
}

describe('outbound webhooks', () => {
  it('W: an approved application reaches the endpoint and verifies with the standardwebhooks library', { timeout: FLOW_TIMEOUT }, async () => {
    const f = new Flow('W-webhooks', artifacts);
    const rx = await webhookReceiver();
    try {
      const endpoint = await f.step('POST /api/v1/webhook-endpoints', () =>
        h.api.expect(201, 'POST', '/api/v1/webhook-endpoints', {
          url: rx.url,
          description: 'e2e receiver',
          events: ['partner_application_approved'],
        }),
      );
      assert.match(endpoint.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
      const app = await f.step('an application, approved through the API', async () => {
        const a = await h.api.expect(201, 'POST', '/api/v1/applications', {
          email: 'webhook.partner@example.com',
          name: 'Ada Webhook',
        });
        await h.api.expect(200, 'POST', `/api/v1/applications/${a.id}/review`, { action: 'approve', code: 'ADA-HOOK' });
        return a;
      });
      const delivery = await f.step('the worker delivers it', async () => {
        await until(() => rx.got.length > 0, { timeout: 20000, message: () => 'no webhook arrived within 20 s' });
        return rx.got[0];
      });
      await f.step('the official standardwebhooks library verifies it', () => {
        const payload = new Webhook(endpoint.secret).verify(delivery.body, delivery.headers);
        assert.equal(payload.event, 'partner_application_approved');
        assert.equal(payload.id, delivery.headers['webhook-id']);
        assert.equal(payload.data.application.id, app.id);
        assert.equal(payload.data.application.email, 'webhook.partner@example.com');
        assert.equal(payload.data.application.name, 'Ada Webhook');
        assert.equal(payload.data.affiliate.code, 'ada-hook');
        assert.ok('customer_id' in payload.data.affiliate);
        // A tampered body or another secret is refused.
        assert.throws(() => new Webhook(endpoint.secret).verify(delivery.body.replace('Ada', 'Eve'), delivery.headers));
        assert.throws(() => new Webhook('whsec_' + crypto.randomBytes(32).toString('base64')).verify(delivery.body, delivery.headers));
      });
      await f.step('Affilia-Signature verifies too (Stripe-style HMAC of "t.body")', () => {
        const parts = Object.fromEntries(delivery.headers['affilia-signature'].split(',').map((p) => p.split('=', 2)));
        const expected = crypto.createHmac('sha256', endpoint.secret).update(`${parts.t}.${delivery.body}`).digest('hex');
        assert.equal(parts.v1, expected);
        assert.ok(Math.abs(Date.now() / 1000 - Number(parts.t)) < 300);
        assert.match(delivery.headers['user-agent'], /^Affilia-Webhooks\//);
        assert.equal(delivery.headers['content-type'], 'application/json');
      });
      await f.step('the delivery log shows the 200', async () => {
        await until(async () => (await h.api.get(`/api/v1/webhook-endpoints/${endpoint.id}/deliveries`)).data[0]?.status === 'succeeded', {
          message: () => 'delivery not marked succeeded',
        });
        const log = await h.api.get(`/api/v1/webhook-endpoints/${endpoint.id}/deliveries`);
        assert.equal(log.data[0].attempts[0].status_code, 200);
        assert.equal(log.data[0].attempts[0].response_excerpt, 'ok');
      });
      // The dashboard page, signed in as the owner, on a desktop and a phone.
      for (const [label, viewport] of [['desktop', { width: 1280, height: 900 }], ['mobile', { width: 375, height: 740 }]]) {
        const ctx = await context({ viewport });
        f.page = await ctx.newPage();
        await f.step(`dashboard sign-in and the webhook pages (${label})`, async () => {
          await f.page.goto(`${h.server.baseUrl}/login`);
          await f.page.locator('input[name="email"]').first().fill('owner@acme.test');
          await f.page.locator('input[name="password"]').first().fill('correct horse battery');
          await Promise.all([f.page.waitForURL(/\/dashboard/), f.page.locator('form:has(input[name="password"]) button[type="submit"]').first().click()]);
          const res = await f.page.goto(`${h.server.baseUrl}/dashboard/developers/webhooks`);
          assert.equal(res.status(), 200);
          assert.match(await visibleText(f.page), /e2e receiver/);
          // The page's own content fits the screen (the shared top bar is the layout's).
          const width = await f.page.evaluate(() => document.querySelector('main').scrollWidth);
          assert.ok(width <= viewport.width + 1, `webhooks content is ${width}px wide at ${viewport.width}`);
        });
        await f.screenshot(`list-${label}`);
        await f.step(`the delivery log (${label})`, async () => {
          const res = await f.page.goto(`${h.server.baseUrl}/dashboard/developers/webhooks/${endpoint.id}`);
          assert.equal(res.status(), 200);
          assert.match(await visibleText(f.page), /succeeded/);
        });
        await f.screenshot(`log-${label}`);
      }
    } finally {
      await rx.stop();
    }
  });
});

describe('kernel JWTs signed by the jsonwebtoken npm package', () => {
  it('G: a consumer from the CLI provisions an affiliate once with tokens from jsonwebtoken', { timeout: FLOW_TIMEOUT }, async () => {
    const secret = h.server
      .cli(['admin', 'create-consumer', '--vendor', h.vendor.slug, '--name', 'newgensales-e2e'])
      .trim();
    assert.match(secret, /^afcs_[0-9a-f]{64}$/, 'create-consumer prints the secret');
    // What a consumer's Node backend does: HS256, iss = the consumer, aud = affilia, 10 min.
    const token = (options = {}) =>
      jwt.sign({}, secret, {
        algorithm: 'HS256',
        issuer: 'newgensales-e2e',
        audience: 'affilia',
        expiresIn: '10m',
        ...options,
      });
    const provision = async (bearer) => {
      const res = await fetch(`${h.server.apiUrl}/api/v1/kernel/affiliates/provision`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          external_id: 'user_e2e_1',
          email: 'rep@e2e-saas.test',
          name: 'Alex Rep',
          vendor_id: h.vendor.vendor_id,
        }),
      });
      return { status: res.status, body: await res.json() };
    };
    const first = await provision(token());
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.created, true);
    assert.equal(first.body.external_source, 'newgensales-e2e');
    const again = await provision(token());
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.created, false);
    assert.equal(again.body.affiliate_id, first.body.affiliate_id);
    // jsonwebtoken's own expired token and another audience are refused with their codes.
    const expired = await provision(token({ expiresIn: -120 }));
    assert.equal(expired.status, 401);
    assert.equal(expired.body.error.code, 'token_expired');
    const audience = await provision(token({ audience: 'someone-else' }));
    assert.equal(audience.body.error.code, 'invalid_audience');
    const forged = await provision(jwt.sign({}, 'afcs_wrong', { algorithm: 'HS256', issuer: 'newgensales-e2e', audience: 'affilia', expiresIn: '10m' }));
    assert.equal(forged.body.error.code, 'invalid_signature');
  });
});
