// The Affilia server under test: finds (or builds) the debug binary, starts `affilia serve`
// on a free port against a fresh SQLite database in a temp dir, runs `affilia admin`
// commands against the same database, and talks to the JSON API.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = path.resolve(E2E_DIR, '..', '..');

/** `target/debug/affilia`, under `CARGO_TARGET_DIR` when set (relative to the repository). */
export function binaryPath() {
  if (process.env.AFFILIA_BIN) return path.resolve(process.env.AFFILIA_BIN);
  const target = path.resolve(REPO, process.env.CARGO_TARGET_DIR || 'target');
  return path.join(target, 'debug', 'affilia');
}

/** The binary, built with `cargo build` only when it is missing. */
export function ensureBinary() {
  const bin = binaryPath();
  if (!fs.existsSync(bin)) {
    console.log(`# ${bin} is missing: cargo build`);
    const r = spawnSync('cargo', ['build'], { cwd: REPO, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`cargo build failed (exit ${r.status})`);
    if (!fs.existsSync(bin)) throw new Error(`cargo build did not produce ${bin}`);
  }
  return bin;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class AffiliaServer {
  /**
   * @param {object} o
   * @param {string} o.bin the affilia binary
   * @param {string} o.tmp a fresh directory for the database and data dir
   * @param {number} o.smtpPort the SMTP sink's port
   * @param {string} o.logFile where the server's output goes
   */
  constructor({ bin, tmp, smtpPort, logFile }) {
    this.bin = bin;
    this.tmp = tmp;
    this.smtpPort = smtpPort;
    this.logFile = logFile;
    this.secretKey = randomBytes(32).toString('hex');
  }

  /** Settings shared by `serve` and the admin commands (the same database). */
  env() {
    const env = { ...process.env };
    // Nothing from the caller's own Affilia setup may leak in.
    for (const k of Object.keys(env)) if (k.startsWith('AFFILIA_')) delete env[k];
    return {
      ...env,
      DATABASE_URL: `sqlite://${path.join(this.tmp, 'e2e.db')}`,
      AFFILIA_BIND: `127.0.0.1:${this.port}`,
      AFFILIA_BASE_URL: `http://localhost:${this.port}`,
      AFFILIA_DATA_DIR: this.tmp,
      AFFILIA_SECRET_KEY: this.secretKey,
      AFFILIA_SMTP_URL: `smtp://127.0.0.1:${this.smtpPort}`,
      AFFILIA_DASHBOARD_HOSTS: 'localhost,127.0.0.1',
      AFFILIA_HTTP_WORKERS: '2',
      // The browser tests drive the API faster than the default 30 writes a minute.
      AFFILIA_API_RATE_LIMIT_READ: '1000000',
      AFFILIA_API_RATE_LIMIT_WRITE: '1000000',
      // Flow W delivers webhooks to a receiver on 127.0.0.1.
      AFFILIA_ALLOW_PRIVATE_WEBHOOK_URLS: 'true',
      // Portal-domain TXT checks stay on this machine (a closed loopback port): the flows
      // verify their domain with `affilia admin verify-domain`, as an operator would.
      AFFILIA_DNS_RESOLVER: '127.0.0.1:9',
      RUST_LOG: process.env.RUST_LOG || 'info',
      NO_COLOR: '1',
    };
  }

  /** Public base URL (dashboard host). */
  get baseUrl() {
    return `http://localhost:${this.port}`;
  }

  /** URL the test process itself uses for the API (IPv4, no name lookup). */
  get apiUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    this.port = await freePort();
    this.log = fs.openSync(this.logFile, 'a');
    this.exited = null;
    this.proc = spawn(this.bin, ['serve'], {
      cwd: this.tmp,
      env: this.env(),
      stdio: ['ignore', this.log, this.log],
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = { code, signal };
    });
    const deadline = Date.now() + 30000;
    for (;;) {
      if (this.exited) {
        throw new Error(`affilia serve exited (${JSON.stringify(this.exited)}) before answering; log:\n${this.logTail()}`);
      }
      try {
        const res = await fetch(`${this.apiUrl}/healthz`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`/healthz did not answer within 30 s; log:\n${this.logTail()}`);
      await sleep(100);
    }
  }

  async stop() {
    if (!this.proc || this.exited) return;
    this.proc.kill('SIGTERM');
    for (let i = 0; i < 100 && !this.exited; i++) await sleep(50);
    if (!this.exited) this.proc.kill('SIGKILL');
    if (this.log !== undefined) fs.closeSync(this.log);
  }

  /** The last lines of the server log. */
  logTail(lines = 40) {
    try {
      return fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Runs `affilia <args>` against the same settings; returns stdout, throws on failure. */
  cli(args, extraEnv = {}) {
    const r = spawnSync(this.bin, args, {
      cwd: this.tmp,
      env: { ...this.env(), ...extraEnv },
      encoding: 'utf8',
      timeout: 30000,
    });
    if (r.status !== 0) {
      throw new Error(`affilia ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.trim()}`);
    }
    return r.stdout;
  }

  /** `affilia admin create-vendor`: `{vendor_id, slug, owner_id, program_id}`. */
  createVendor({ name, ownerEmail, ownerPassword, currency = 'USD' }) {
    const out = this.cli(
      ['admin', 'create-vendor', '--name', name, '--owner-email', ownerEmail, '--currency', currency],
      { AFFILIA_OWNER_PASSWORD: ownerPassword },
    );
    const fields = {};
    for (const line of out.split('\n')) {
      const m = /^(\w+):\s*(\S+)/.exec(line.trim());
      if (m) fields[m[1]] = m[2];
    }
    for (const k of ['vendor_id', 'slug', 'program_id']) {
      if (!fields[k]) throw new Error(`create-vendor printed no ${k}: ${out}`);
    }
    return fields;
  }

  /** `affilia admin create-api-key`: the key. */
  createApiKey({ vendor, name, scope = 'full' }) {
    const key = this.cli(['admin', 'create-api-key', '--vendor', vendor, '--name', name, '--scope', scope]).trim();
    if (!/^afk_[0-9a-f]{48}$/.test(key)) throw new Error(`create-api-key printed ${JSON.stringify(key)}`);
    return key;
  }

  /** An API client with this key. */
  api(key) {
    return new ApiClient(this.apiUrl, key);
  }
}

export class ApiClient {
  constructor(base, key) {
    this.base = base;
    this.key = key;
  }

  /** `{status, body, headers}`; `body` is parsed JSON when the answer is JSON. */
  async call(method, urlPath, body) {
    const res = await fetch(`${this.base}${urlPath}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.key}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  /** Like `call`, but throws unless the status is `expect`; resolves to the body. */
  async expect(expect, method, urlPath, body) {
    const r = await this.call(method, urlPath, body);
    if (r.status !== expect) {
      throw new Error(
        `${method} ${urlPath} → ${r.status}, expected ${expect}: ${typeof r.body === 'string' ? r.body.slice(0, 500) : JSON.stringify(r.body)}`,
      );
    }
    return r.body;
  }

  get(p) {
    return this.expect(200, 'GET', p);
  }
}
