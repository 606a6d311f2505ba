// Shared set-up for the vendor-dashboard journeys (tests/e2e/vendor-*.mjs): each file starts
// its own `affilia serve` on a fresh SQLite database with an SMTP sink and Chromium, so the
// files stand alone and can be run one by one (`node tests/e2e/vendor-team.mjs`).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { AffiliaServer, E2E_DIR, ensureBinary } from './app.mjs';
import { Flow, launch } from './browser.mjs';
import { SmtpSink } from './smtp-sink.mjs';

export const OWNER_EMAIL = 'owner@acme.test';
export const OWNER_PASSWORD = 'correct horse battery';
export const VENDOR_NAME = 'Acme Inc';

/** Where screenshots and the server log go (`$E2E_ARTIFACTS` or tests/e2e/artifacts). */
export function artifactsDir() {
  const dir = path.resolve(process.env.E2E_ARTIFACTS || path.join(E2E_DIR, 'artifacts'));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Starts a server (fresh database), an SMTP sink and Chromium; creates a vendor with an owner
 * and a full-scope API key. `name` labels the server log (`<name>.log` in the artifacts).
 * Returns `{server, sink, vendor, key, api, browser, tmp, artifacts, contexts}`;
 * call `stopVendorHarness(h)` in `after`.
 */
export async function startVendorHarness(name) {
  const h = { contexts: [] };
  h.artifacts = artifactsDir();
  h.tmp = fs.mkdtempSync(path.join(os.tmpdir(), `affilia-e2e-${name}-`));
  h.sink = new SmtpSink();
  await h.sink.start();
  const logFile = path.join(h.artifacts, `${name}.log`);
  fs.rmSync(logFile, { force: true });
  h.server = new AffiliaServer({ bin: ensureBinary(), tmp: h.tmp, smtpPort: h.sink.port, logFile });
  await h.server.start();
  h.vendor = h.server.createVendor({ name: VENDOR_NAME, ownerEmail: OWNER_EMAIL, ownerPassword: OWNER_PASSWORD });
  h.key = h.server.createApiKey({ vendor: h.vendor.slug, name: `e2e-${name}` });
  h.api = h.server.api(h.key);
  h.browser = await launch('MAP affiliates.acme.test 127.0.0.1');
  console.log(`# [${name}] affilia serve on ${h.server.baseUrl}, SMTP sink on ${h.sink.port}`);
  return h;
}

/** Stops everything `startVendorHarness` started; prints the log tail when a step failed. */
export async function stopVendorHarness(h) {
  for (const c of h.contexts || []) await c.close().catch(() => {});
  await h.browser?.close().catch(() => {});
  await h.server?.stop().catch(() => {});
  await h.sink?.stop().catch(() => {});
  if (h.tmp && !process.env.E2E_KEEP) fs.rmSync(h.tmp, { recursive: true, force: true });
  if (Flow.failures > 0 && h.server) {
    console.log(`# last lines of the server log:\n${h.server.logTail(30).replace(/^/gm, '#   ')}`);
  }
}

/** A new browser context (desktop 1280×900 unless `viewport` says otherwise). */
export async function newContext(h, { viewport = { width: 1280, height: 900 } } = {}) {
  const ctx = await h.browser.newContext({ viewport });
  h.contexts.push(ctx);
  return ctx;
}

/** Signs a staff member in through `/login` and waits for the dashboard. */
export async function signIn(h, page, email = OWNER_EMAIL, password = OWNER_PASSWORD) {
  await page.goto(`${h.server.baseUrl}/login`);
  await page.locator('input[name="email"]').first().fill(email);
  await page.locator('input[name="password"]').first().fill(password);
  await Promise.all([
    page.waitForURL(/\/dashboard/),
    page.locator('form:has(input[name="password"]) button[type="submit"]').first().click(),
  ]);
}

/** Asserts the document does not scroll sideways at the page's viewport width. */
export async function assertNoHorizontalScroll(page, label = page.url()) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  assert.ok(scroll <= width + 1, `${label} is ${scroll}px wide at a ${width}px viewport`);
}
