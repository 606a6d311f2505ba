// Chromium (Debian's /usr/bin/chromium) driven by playwright-core, and small helpers for
// steps that explain themselves when they fail.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Launches headless Chromium; `hostRules` maps test host names to 127.0.0.1. */
export async function launch(hostRules) {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: apt-get update && apt-get install -y chromium`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--host-resolver-rules=${hostRules}`,
    ],
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; throws `message()` after `timeout` ms. */
export async function until(fn, { timeout = 10000, interval = 100, message = () => 'condition not met' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : '';
      throw new Error(`${await message()}${why}`);
    }
    await sleep(interval);
  }
}

/** The visible text of a page or frame, whitespace collapsed. */
export async function visibleText(pageOrFrame) {
  try {
    return (await pageOrFrame.locator('body').innerText({ timeout: 2000 })).replace(/\s+/g, ' ').trim();
  } catch (e) {
    return `(no text: ${e.message.split('\n')[0]})`;
  }
}

/** Text of a `data-test` element, or throws naming what the page shows instead. */
export async function testText(pageOrFrame, name, timeout = 10000) {
  const el = pageOrFrame.locator(`[data-test="${name}"]`).first();
  try {
    await el.waitFor({ state: 'visible', timeout });
  } catch {
    throw new Error(`no visible [data-test="${name}"]; the page shows: ${(await visibleText(pageOrFrame)).slice(0, 600)}`);
  }
  return (await el.innerText()).replace(/\s+/g, ' ').trim();
}

/** A regular expression matching `cents` written as money: `$61.70`, `61.70 USD` or `USD 61.70`. */
export function moneyPattern(cents, currency = 'USD') {
  const whole = Math.floor(cents / 100).toLocaleString('en-US');
  const amount = `${whole}.${String(cents % 100).padStart(2, '0')}`.replace(/[.,]/g, (c) => `\\${c}`);
  const symbol = { USD: '\\$', EUR: '€', GBP: '£' }[currency];
  const forms = [`${amount}\\s?${currency}`, `${currency}\\s?${amount}`];
  if (symbol) forms.unshift(`${symbol}\\s?${amount}`);
  return new RegExp(`(^|[^0-9.,])(${forms.join('|')})(?![0-9])`);
}

/**
 * One flow: named steps that log themselves and, on failure, say which step failed and
 * what the page showed; a screenshot at the end (or at the failure).
 */
export class Flow {
  /** Failed steps in this run (the runner prints the server log's tail when any failed). */
  static failures = 0;

  constructor(name, artifacts) {
    this.name = name;
    this.artifacts = artifacts;
    this.page = null;
    this.shots = 0;
  }

  async step(title, fn) {
    console.log(`#   [${this.name}] ${title}`);
    try {
      return await fn();
    } catch (e) {
      Flow.failures += 1;
      let where = '';
      if (this.page && !this.page.isClosed()) {
        where = `\n    page: ${this.page.url()}\n    shows: ${(await visibleText(this.page)).slice(0, 800)}`;
        await this.screenshot('failure').catch(() => {});
      }
      const err = new Error(`[${this.name}] step "${title}" failed: ${e.message}${where}`);
      err.stack = `${err.message}\n${(e.stack || '').split('\n').slice(1, 6).join('\n')}`;
      throw err;
    }
  }

  async screenshot(label = 'final', page = this.page) {
    if (!page || page.isClosed()) return null;
    const file = path.join(this.artifacts, `${this.name}-${++this.shots}-${label}.png`.replace(/[^\w.-]+/g, '_'));
    await page.screenshot({ path: file, fullPage: true });
    console.log(`#   [${this.name}] screenshot ${path.relative(process.cwd(), file)}`);
    return file;
  }
}

/** An HTTP server standing in for the vendor's app: one page framing `iframeSrc`. */
export class HostApp {
  constructor() {
    this.iframeSrc = 'about:blank';
    this.server = http.createServer((req, res) => {
      if (req.url !== '/' && !req.url.startsWith('/?')) {
        res.writeHead(404).end();
        return;
      }
      const src = this.iframeSrc.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html>
<html><head><meta charset="utf-8"><title>Vendor app</title></head>
<body style="margin:0;font-family:sans-serif">
<h1 style="font-size:16px;margin:8px">Vendor app (${this.port})</h1>
<iframe id="partner" title="Partner dashboard" src="${src}" style="width:900px;height:700px;border:1px solid #999"></iframe>
</body></html>`);
    });
  }

  async start(port) {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this.port;
  }

  get origin() {
    return `http://localhost:${this.port}`;
  }

  async stop() {
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }
}
