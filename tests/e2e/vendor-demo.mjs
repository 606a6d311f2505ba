// Vendor journeys a person clicks through, on one fresh server (no vendor yet): first-run
// setup, sign-out and sign-in, approving an application from the queue (an HTMX swap, no
// reload), inviting an affiliate and following the emailed link into the portal, and a
// click through /r/{code} with a sale reported through the API showing on both sides.
// Run: cargo build && node tests/e2e/vendor-demo.mjs
//
// Things are found by role, label and text (not CSS classes) so a restyle keeps it green.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { AffiliaServer, ensureBinary, freePort } from './lib/app.mjs';
import { Flow, HostApp, launch, moneyPattern, until, visibleText } from './lib/browser.mjs';
import { SmtpSink } from './lib/smtp-sink.mjs';
import { artifactsDir, newContext, signIn, stopVendorHarness } from './lib/vendor.mjs';

const NAME = 'Demo Coffee';
const OWNER = 'owner@democoffee.test';
const PASSWORD = 'correct horse battery';

const h = { contexts: [] };
const state = {};

before(async () => {
  h.artifacts = artifactsDir();
  h.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affilia-e2e-demo-'));
  h.sink = new SmtpSink();
  await h.sink.start();
  const logFile = path.join(h.artifacts, 'vendor-demo.log');
  fs.rmSync(logFile, { force: true });
  // A bare server: the first journey creates the vendor through the setup page.
  h.server = new AffiliaServer({ bin: ensureBinary(), tmp: h.tmp, smtpPort: h.sink.port, logFile });
  await h.server.start();
  h.browser = await launch('MAP affiliates.democoffee.test 127.0.0.1');
  // The vendor's shop, where referral links land (a page served by the test).
  h.shop = new HostApp();
  await h.shop.start(await freePort());
  h.shopUrl = `http://127.0.0.1:${h.shop.port}`;
  console.log(`# [vendor-demo] affilia serve on ${h.server.baseUrl}`);
});

after(async () => {
  await h.shop?.stop().catch(() => {});
  await stopVendorHarness(h);
});

/** Screenshots of `url` at 1280 and 375 px in fresh signed-in contexts. */
async function shootBoth(f, label, open) {
  for (const width of [1280, 375]) {
    const ctx = await newContext(h, { viewport: { width, height: width === 375 ? 800 : 900 } });
    const page = await ctx.newPage();
    await open(page);
    await f.screenshot(`${label}-${width}`, page);
    await ctx.close();
  }
}

test('first-run setup, sign-out and sign-in', async () => {
  const f = new Flow('demo-setup', h.artifacts);
  const ctx = await newContext(h);
  f.page = await ctx.newPage();
  await f.step('the first visit shows the setup page', async () => {
    await f.page.goto(h.server.baseUrl);
    await f.page.getByLabel(/company or product name/i).waitFor({ state: 'visible' });
  });
  await f.step('filling it in creates the program and signs the owner in', async () => {
    await f.page.getByLabel(/company or product name/i).fill(NAME);
    await f.page.getByLabel(/your email/i).fill(OWNER);
    await f.page.getByLabel(/password/i).fill(PASSWORD);
    await f.page.getByLabel(/currency/i).fill('USD');
    await Promise.all([
      f.page.waitForURL(/\/dashboard/),
      f.page.getByRole('button', { name: /create program/i }).click(),
    ]);
    assert.match(await visibleText(f.page), /sign out/i);
  });
  await f.step('the setup page is gone once a vendor exists', async () => {
    const res = await fetch(`${h.server.apiUrl}/setup`, { redirect: 'manual' });
    assert.notEqual(res.status, 200, 'GET /setup still answers 200 after setup');
  });
  await f.step('sign out returns to the sign-in page; the dashboard then asks to sign in', async () => {
    await Promise.all([
      f.page.waitForURL((u) => !u.pathname.startsWith('/dashboard')),
      f.page.getByRole('button', { name: /sign out/i }).click(),
    ]);
    await f.page.goto(`${h.server.baseUrl}/dashboard`);
    await until(() => f.page.url().includes('/login'), { message: () => `not sent to /login: ${f.page.url()}` });
  });
  await f.step('signing in with the setup password opens the dashboard', async () => {
    await signIn({ server: h.server }, f.page, OWNER, PASSWORD);
    assert.match(await visibleText(f.page), /sign out/i);
  });
  await f.screenshot('signed-in');
  // The other journeys use the API with a key for this vendor.
  state.slug = 'demo-coffee';
  h.key = h.server.createApiKey({ vendor: state.slug, name: 'e2e-demo' });
  h.api = h.server.api(h.key);
});

test('approving an application from the queue swaps its row without a reload', async () => {
  assert.ok(h.api, 'the setup journey must run first');
  const f = new Flow('demo-queue', h.artifacts);
  const email = 'jo.applicant@democoffee.test';
  await f.step('an application arrives through the API', async () => {
    await h.api.expect(201, 'POST', '/api/v1/applications', {
      email,
      name: 'Jo Applicant',
      website: 'https://jo.example',
      reason: 'I review coffee gear for 20k readers.',
    });
    await h.api.expect(201, 'POST', '/api/v1/applications', {
      email: 'sam.second@democoffee.test',
      name: 'Sam Second',
      reason: 'A barista blog.',
    });
  });
  const ctx = await newContext(h);
  f.page = await ctx.newPage();
  await signIn({ server: h.server }, f.page, OWNER, PASSWORD);
  await f.step('the queue lists the applicant', async () => {
    await f.page.goto(`${h.server.baseUrl}/dashboard/applications`);
    await f.page.getByText(email).waitFor({ state: 'visible' });
  });
  await shootBoth(f, 'queue', async (page) => {
    await signIn({ server: h.server }, page, OWNER, PASSWORD);
    await page.goto(`${h.server.baseUrl}/dashboard/applications`);
    await page.getByText(email).waitFor({ state: 'visible' });
  });
  await f.step('Approve on the row swaps it in place: the page was not reloaded', async () => {
    await f.page.evaluate(() => {
      window.__noReload = 'still here';
    });
    const row = f.page.getByRole('row').filter({ hasText: email });
    const swapped = f.page.waitForResponse((r) => r.url().includes('/review') && r.request().method() === 'POST');
    await row.getByRole('button', { name: /approve/i }).click();
    assert.equal((await swapped).status(), 200);
    await until(async () => /approved/i.test(await f.page.getByRole('row').filter({ hasText: email }).innerText()), {
      message: async () => `the row does not say approved: ${await visibleText(f.page)}`,
    });
    assert.equal(await f.page.evaluate(() => window.__noReload), 'still here', 'the page reloaded');
    // The other applicant is still waiting with its buttons.
    const other = f.page.getByRole('row').filter({ hasText: 'sam.second@democoffee.test' });
    await other.getByRole('button', { name: /approve/i }).waitFor({ state: 'visible' });
  });
  await f.step('the approved applicant is now an affiliate', async () => {
    const list = await h.api.get(`/api/v1/affiliates?search=${encodeURIComponent(email)}`);
    assert.equal(list.data.length, 1, JSON.stringify(list));
  });
  await f.screenshot('approved');
});

test('invite an affiliate from the dashboard; the emailed link opens the portal', async () => {
  assert.ok(h.api, 'the setup journey must run first');
  const f = new Flow('demo-invite', h.artifacts);
  const email = 'ria.invited@democoffee.test';
  const ctx = await newContext(h);
  f.page = await ctx.newPage();
  await signIn({ server: h.server }, f.page, OWNER, PASSWORD);
  const sent = h.sink.messages.length;
  await f.step('the invite form creates the affiliate and emails an invitation', async () => {
    await f.page.goto(`${h.server.baseUrl}/dashboard/affiliates/new`);
    await f.page.getByLabel('Email', { exact: true }).fill(email);
    await f.page.getByLabel(/first name/i).fill('Ria');
    await f.page.getByLabel(/last name/i).fill('Invited');
    const invite = f.page.getByLabel(/email an invitation/i);
    if (!(await invite.isChecked())) await invite.check();
    await Promise.all([
      f.page.waitForURL((u) => !u.pathname.endsWith('/new')),
      f.page.getByRole('button', { name: /^invite$/i }).click(),
    ]);
    assert.match(await visibleText(f.page), new RegExp(email.replace(/[.]/g, '\\.')));
  });
  const link = await f.step('the invitation in the mailbox carries a sign-in link', async () => {
    const mail = await h.sink.waitFor(email, { after: sent });
    const links = mail.links().filter((l) => l.includes('/login/link/'));
    assert.ok(links.length > 0, `no sign-in link in "${mail.subject}": ${mail.text.slice(0, 400)}`);
    return links[0];
  });
  const portal = await newContext(h);
  const p = await portal.newPage();
  await f.step('following the link signs the affiliate into the portal', async () => {
    await p.goto(link);
    const form = p.locator('form[method="post" i]:not(:has(input[name="email"]))').first();
    await form.getByRole('button').first().waitFor({ state: 'visible' });
    await Promise.all([p.waitForURL((u) => !u.pathname.includes('/login/')), form.getByRole('button').first().click()]);
    await until(async () => /referral link/i.test(await visibleText(p)), {
      message: async () => `the portal home does not show a referral link: ${(await visibleText(p)).slice(0, 500)}`,
    });
  });
  await f.step('signing in made the affiliate active', async () => {
    const list = await h.api.get(`/api/v1/affiliates?search=${encodeURIComponent(email)}`);
    assert.equal(list.data[0].status, 'active');
    state.affiliate = list.data[0];
  });
  state.portal = p;
  state.portalLink = p.url();
  await f.screenshot('portal', p);
});

test('a click through /r/{code} and a reported sale show in both dashboards', async () => {
  assert.ok(state.affiliate && state.portal, 'the invite journey must run first');
  const f = new Flow('demo-sale', h.artifacts);
  const detail = await h.api.get(`/api/v1/affiliates/${state.affiliate.id}`);
  const code = detail.enrollments[0].code;
  await f.step('the program sends visitors to the shop', async () => {
    const programs = await h.api.get('/api/v1/programs');
    const program = (programs.data || programs)[0];
    await h.api.expect(200, 'PATCH', `/api/v1/programs/${program.id}`, { landing_url: `${h.shopUrl}/` });
  });
  const visitor = await newContext(h);
  f.page = await visitor.newPage();
  const affSess = await f.step(`a visitor follows /r/${code} and lands on the shop with a click id`, async () => {
    await f.page.goto(`${h.server.baseUrl}/r/${code}`);
    const url = new URL(f.page.url());
    assert.equal(url.origin, h.shopUrl, `landed on ${f.page.url()}`);
    const id = url.searchParams.get('aff_sess');
    assert.match(id || '', /^clk_/, `no aff_sess in ${f.page.url()}`);
    return id;
  });
  await f.step('the shop reports the sign-up and a 129.00 payment through the API', async () => {
    await h.api.expect(201, 'POST', '/api/v1/referrals', { customer_id: 'cus_e2e_demo', aff_sess: affSess });
    const r = await h.api.call('POST', '/api/v1/events', {
      id: 'evt_e2e_demo_1',
      type: 'charge.succeeded',
      customer_id: 'cus_e2e_demo',
      amount_cents: 12900,
      currency: 'USD',
    });
    assert.ok([200, 201, 202].includes(r.status), `POST /api/v1/events → ${r.status} ${JSON.stringify(r.body)}`);
  });
  const staff = await newContext(h);
  const s = await staff.newPage();
  await signIn({ server: h.server }, s, OWNER, PASSWORD);
  await f.step('the vendor sees the 129.00 conversion and its 25.80 commission', async () => {
    await s.goto(`${h.server.baseUrl}/dashboard/conversions`);
    const text = await visibleText(s);
    assert.match(text, moneyPattern(12900), `conversions page: ${text.slice(0, 600)}`);
    assert.match(text, moneyPattern(2580), `conversions page: ${text.slice(0, 600)}`);
  });
  await f.screenshot('vendor-conversions', s);
  await f.step('the affiliate sees the 25.80 commission in the portal', async () => {
    const p = state.portal;
    await p.reload();
    await until(async () => moneyPattern(2580).test(await visibleText(p)), {
      message: async () => `the portal does not show 25.80: ${(await visibleText(p)).slice(0, 600)}`,
    });
  });
  await shootBoth(f, 'portal', async (page) => {
    await page.context().addCookies(await state.portal.context().cookies());
    await page.goto(state.portalLink);
    await page.waitForLoadState('load');
  });
});
