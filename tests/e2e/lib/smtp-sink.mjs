// A tiny SMTP server for the browser tests: it speaks enough SMTP for lettre's client
// (greeting, EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps every message, and lets a
// test wait for the next email to an address and pull a link out of it.

import net from 'node:net';

/** Decodes a quoted-printable body: soft line breaks (`=\r\n`) and `=XX` escapes. */
export function decodeQuotedPrintable(body) {
  const joined = body.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    const c = joined[i];
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Splits a raw message (or MIME part) into lower-cased headers (unfolded) and its body. */
function splitHeaders(raw) {
  const at = raw.indexOf('\r\n\r\n');
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at + 4);
  const headers = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

function decodeBody(headers, body) {
  const cte = (headers['content-transfer-encoding'] || '').toLowerCase();
  if (cte === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (cte === 'quoted-printable') return decodeQuotedPrintable(body);
  return body;
}

/** The decoded leaf parts of a MIME message: `[{contentType, text}]`. */
export function mimeParts(raw) {
  const { headers, body } = splitHeaders(raw);
  const type = headers['content-type'] || 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    const parts = [];
    for (const chunk of body.split(`--${boundary}`).slice(1)) {
      if (chunk.startsWith('--')) break; // closing delimiter
      parts.push(...mimeParts(chunk.replace(/^\r\n/, '').replace(/\r\n$/, '')));
    }
    return parts;
  }
  return [{ contentType: type.split(';')[0].trim().toLowerCase(), text: decodeBody(headers, body) }];
}

/** One received email. */
export class Email {
  constructor({ mailFrom, rcptTo, data }) {
    this.mailFrom = mailFrom;
    this.rcptTo = rcptTo;
    this.data = data;
    const { headers } = splitHeaders(data);
    this.headers = headers;
    this.subject = headers.subject || '';
    this.parts = mimeParts(data);
  }

  /** The plain-text part (else the first part), decoded. */
  get text() {
    return (this.parts.find((p) => p.contentType === 'text/plain') || this.parts[0] || { text: '' }).text;
  }

  /** The HTML part, decoded, if any. */
  get html() {
    return this.parts.find((p) => p.contentType === 'text/html')?.text || '';
  }

  /** Every http(s) URL in the text and HTML parts, in order, without duplicates. */
  links() {
    const found = [];
    for (const p of this.parts) {
      for (const m of p.text.matchAll(/https?:\/\/[^\s"'<>]+/g)) {
        const url = m[0].replace(/&amp;/g, '&').replace(/[).,;]+$/, '');
        if (!found.includes(url)) found.push(url);
      }
    }
    return found;
  }

  /** Whether it was sent to `address` (envelope recipient). */
  isTo(address) {
    const want = address.toLowerCase();
    return this.rcptTo.some((r) => r.replace(/[<>\s]/g, '').toLowerCase() === want);
  }
}

export class SmtpSink {
  constructor() {
    this.messages = [];
    this.waiters = new Set();
    this.sockets = new Set();
    this.server = net.createServer((socket) => this.session(socket));
  }

  /** Listens on 127.0.0.1 (port 0 picks a free port); resolves to the port. */
  async start(port = 0) {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this.port;
  }

  get url() {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async stop() {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }

  session(socket) {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = '';
    let inData = false;
    let mailFrom = '';
    let rcptTo = [];
    const reply = (line) => socket.write(`${line}\r\n`);
    reply('220 sink.test ESMTP affilia e2e sink');
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      buffer += chunk;
      for (;;) {
        if (inData) {
          // The message ends with CRLF.CRLF; the line "." alone right after DATA counts too.
          let end = buffer.indexOf('\r\n.\r\n');
          let bodyEnd = end;
          let skip = 5;
          if (buffer.startsWith('.\r\n')) {
            end = 0;
            bodyEnd = 0;
            skip = 3;
          }
          if (end < 0) return;
          const raw = buffer.slice(0, bodyEnd);
          buffer = buffer.slice(end + skip);
          inData = false;
          // Undo dot-stuffing.
          const data = raw.split('\r\n').map((l) => (l.startsWith('..') ? l.slice(1) : l)).join('\r\n');
          this.receive(new Email({ mailFrom, rcptTo, data }));
          mailFrom = '';
          rcptTo = [];
          reply('250 2.0.0 queued');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const upper = line.toUpperCase();
        if (upper.startsWith('EHLO')) {
          socket.write('250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760\r\n');
        } else if (upper.startsWith('HELO') || upper.startsWith('NOOP')) {
          reply('250 ok');
        } else if (upper.startsWith('RSET')) {
          mailFrom = '';
          rcptTo = [];
          reply('250 ok');
        } else if (upper.startsWith('MAIL FROM:')) {
          mailFrom = line.slice(10).trim().split(/\s+/)[0];
          reply('250 2.1.0 ok');
        } else if (upper.startsWith('RCPT TO:')) {
          rcptTo.push(line.slice(8).trim().split(/\s+/)[0]);
          reply('250 2.1.5 ok');
        } else if (upper === 'DATA') {
          inData = true;
          reply('354 end data with <CR><LF>.<CR><LF>');
        } else if (upper.startsWith('QUIT')) {
          reply('221 2.0.0 bye');
          socket.end();
          return;
        } else {
          reply('502 5.5.2 command not implemented');
        }
      }
    });
  }

  receive(email) {
    this.messages.push(email);
    for (const w of [...this.waiters]) w();
  }

  /** Emails to `address` received so far. */
  to(address) {
    return this.messages.filter((m) => m.isTo(address));
  }

  /**
   * Waits for an email to `address` that arrives after the first `after` messages of the
   * sink (pass `sink.messages.length` taken before the action) and matches `filter`.
   */
  async waitFor(address, { after = 0, filter = () => true, timeout = 15000 } = {}) {
    const find = () => this.messages.slice(after).find((m) => m.isTo(address) && filter(m));
    const found = find();
    if (found) return found;
    return new Promise((resolve, reject) => {
      const done = () => {
        const m = find();
        if (!m) return;
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(m);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        const seen = this.messages.map((m) => `${m.rcptTo.join(',')}: ${m.subject}`).join('; ') || 'none';
        reject(new Error(`no email to ${address} within ${timeout} ms (received so far: ${seen})`));
      }, timeout);
      this.waiters.add(done);
    });
  }
}
