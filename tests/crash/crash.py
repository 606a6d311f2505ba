#!/usr/bin/env python3
"""Crash test of one database (issue 21): SIGKILL a release Affilia server under load, restart it,
and check that nothing acknowledged was lost or counted twice.

Standard library only. `tests/crash/run.sh` builds the server and runs this once on SQLite and
once on PostgreSQL; run it by hand with

    python3 tests/crash/crash.py --bin target/crash/affilia --db sqlite
    python3 tests/crash/crash.py --bin target/crash/affilia --db postgres \
        --pg-admin-url postgres://postgres@127.0.0.1:5432/postgres

What it does, in order:

1. seeds a fresh database with the CLI (vendor, program, API key) and the API (percentage
   terms, affiliates, a webhook endpoint subscribed to `conversion.created` that points at a
   receiver inside this script);
2. streams billing events (`POST /api/v1/events`: payments of several customers carrying
   referral codes, partial and full refunds of acknowledged payments, acknowledged events
   re-sent on purpose) and redirects (`GET /r/{code}`) from several threads at once;
3. meanwhile SIGKILLs the server at random moments (`--kills` times), restarts it, and on
   PostgreSQL restarts PostgreSQL itself once; every event not acknowledged is sent again
   with the same id until it is;
4. checks: every acknowledged event is in the event log, processed; every redirect answered
   302 with a click id has its click stored; conversions and commissions equal the ones
   recomputed here from the event stream and the program's terms (none duplicated, none
   missing); `affilia ledger verify` passes; every `conversion.created` webhook arrived at
   least once under one stable event id (duplicates counted, not failed: at-least-once);
5. prints its figures and exits 1 on any violation.
"""

import argparse
import collections
import http.client
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
BPS = 1250  # 12.5 %: half-up rounding happens on many amounts
CODES = ["crash-ann", "crash-bob", "crash-cy"]


def log(msg):
    print(f"[crash {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def half_up_share(value, num, den):
    """round(value * num / den), halves up, in integers (README: rounding)."""
    return (2 * value * num + den) // (2 * den)


def http_call(port, method, path, body=None, headers=None, timeout=15):
    """One request on a fresh connection: (status, headers, body bytes), or (None, None, None)
    when the server is not there (killed, restarting)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        h = dict(headers or {})
        if data is not None:
            h["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except (OSError, http.client.HTTPException):
        return None, None, None
    finally:
        conn.close()


class Server:
    """The `affilia serve` process under test (HTTP and the job worker)."""

    def __init__(self, binary, env, port, log_path):
        self.binary, self.env, self.port, self.log_path = binary, env, port, log_path
        self.proc = None
        self.starts = 0

    def start(self):
        logf = open(self.log_path, "ab")
        logf.write(f"\n==== start {self.starts + 1} ====\n".encode())
        logf.flush()
        self.proc = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=logf,
                                     stderr=subprocess.STDOUT)
        logf.close()
        self.starts += 1
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}")
            status, _, _ = http_call(self.port, "GET", "/healthz", timeout=2)
            if status == 200:
                return
            time.sleep(0.05)
        raise RuntimeError(f"server did not come up; see {self.log_path}")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Receiver:
    """A local webhook endpoint: records every delivery's event id and conversion."""

    def __init__(self):
        self.lock = threading.Lock()
        self.deliveries = collections.Counter()  # event id -> deliveries
        self.conversion_of = {}  # event id -> conversion id
        self.events_of = collections.defaultdict(set)  # conversion id -> event ids
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    msg = json.loads(body)
                    data = msg.get("data") or {}
                    conv = (data.get("conversion") or data).get("id")
                    with receiver.lock:
                        receiver.deliveries[msg["id"]] += 1
                        if msg.get("event") == "conversion.created" and conv:
                            receiver.conversion_of[msg["id"]] = conv
                            receiver.events_of[conv].add(msg["id"])
                except (ValueError, KeyError, AttributeError):
                    pass
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


class Stream:
    """The billing events and their fate. Refunds are only generated for acknowledged
    payments (a refund of a payment the server has not seen is a different test) and never
    exceed what is left of the payment."""

    def __init__(self, rng, customers):
        self.rng = rng
        self.lock = threading.Lock()
        self.customers = [(f"cus_crash_{i}", rng.choice(CODES)) for i in range(customers)]
        self.events = {}  # id -> body
        self.order = []  # ids in generation order
        self.acked = {}  # id -> status answered ("processed" ...)
        self.retry = collections.deque()  # ids whose last attempt got no answer or a 5xx
        self.in_flight = set()
        self.refund_room = {}  # acknowledged payment id -> amount not yet refunded
        self.n = 0
        self.sent = 0  # POSTs
        self.resent = 0  # POSTs of an event not acknowledged before (retries)
        self.dup_sent = 0  # acknowledged events sent again on purpose
        self.dup_ok = 0
        self.violations = []

    def next_new(self):
        self.n += 1
        eid = f"evt_crash_{self.n}"
        rooms = [p for p, left in self.refund_room.items() if left > 0]
        if rooms and self.rng.random() < 0.2:
            pid = self.rng.choice(rooms)
            left = self.refund_room[pid]
            amount = left if self.rng.random() < 0.3 else self.rng.randint(1, left)
            self.refund_room[pid] = left - amount
            pay = self.events[pid]
            body = {"id": eid, "type": "refund.processed", "customer_id": pay["customer_id"],
                    "charge_id": pid, "amount_cents": amount, "currency": "USD"}
        else:
            cus, code = self.rng.choice(self.customers)
            body = {"id": eid, "type": "charge.succeeded", "customer_id": cus,
                    "amount_cents": self.rng.randint(100, 99_999), "currency": "USD",
                    "occurred_at": "2026-11-20T12:00:00Z", "metadata": {"affiliate_code": code}}
        self.events[eid] = body
        self.order.append(eid)
        return eid

    def take(self, generate):
        """The next (id, body, on_purpose_duplicate) to send, or None."""
        with self.lock:
            while self.retry:
                eid = self.retry.popleft()
                if eid not in self.acked and eid not in self.in_flight:
                    self.in_flight.add(eid)
                    self.resent += 1
                    return eid, self.events[eid], False
            if not generate:
                return None
            if self.acked and self.rng.random() < 0.08:
                eid = self.rng.choice(list(self.acked))
                return eid, self.events[eid], True
            eid = self.next_new()
            self.in_flight.add(eid)
            return eid, self.events[eid], False

    def answer(self, eid, dup, status, body):
        with self.lock:
            self.sent += 1
            if dup:
                self.dup_sent += 1
                if status in (200, 201):
                    if body.get("duplicate") is True:
                        self.dup_ok += 1
                    else:
                        self.violations.append(f"acknowledged event {eid} sent again was not a duplicate: {body}")
                return
            self.in_flight.discard(eid)
            if status in (200, 201):
                self.acked[eid] = body.get("status")
                if body.get("status") != "processed":
                    self.violations.append(f"event {eid} answered {status} {body}")
                ev = self.events[eid]
                if ev["type"] == "charge.succeeded" and eid not in self.refund_room:
                    self.refund_room[eid] = ev["amount_cents"]
            elif status is None or status >= 500 or status == 429:
                self.retry.append(eid)
            else:
                self.violations.append(f"event {eid} answered {status} {body}")

    def unacked(self):
        with self.lock:
            return [e for e in self.order if e not in self.acked]


def seed(args, env, server_port, receiver_port):
    """Vendor, program and key by the CLI; terms, affiliates and the webhook by the API."""

    def cli(*argv):
        out = subprocess.run([args.bin, *argv], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"affilia {' '.join(argv)} failed: {out.stderr}")
        return out.stdout

    vendor = cli("admin", "create-vendor", "--name", "Crash Shop", "--owner-email",
                 "owner@crash.test", "--owner-password", "crash-password-1234")
    fields = dict(line.split(":", 1) for line in vendor.splitlines() if ":" in line)
    program_id, slug = fields["program_id"].strip(), fields["slug"].strip()
    key = cli("admin", "create-api-key", "--vendor", slug, "--name", "crash", "--scope", "full").strip()
    return program_id, key


def api(port, key, method, path, body=None, expect=(200, 201)):
    status, _, data = http_call(port, method, "/api/v1" + path, body,
                                {"Authorization": f"Bearer {key}"}, timeout=60)
    if status not in expect:
        raise RuntimeError(f"{method} {path} answered {status}: {data!r}")
    return json.loads(data) if data else None


def all_pages(port, key, path):
    out, page = [], 1
    while True:
        sep = "&" if "?" in path else "?"
        doc = api(port, key, "GET", f"{path}{sep}per_page=100&page={page}")
        out.extend(doc["data"])
        if len(out) >= doc["total"] or not doc["data"]:
            return out
        page += 1


class Db:
    """Read-only looks at the database the server writes (event log, clicks)."""

    def __init__(self, kind, url, sqlite_path):
        self.kind, self.url, self.sqlite_path = kind, url, sqlite_path

    def rows(self, sql):
        if self.kind == "sqlite":
            con = sqlite3.connect(self.sqlite_path, timeout=30)
            try:
                return [tuple(str(v) for v in r) for r in con.execute(sql).fetchall()]
            finally:
                con.close()
        out = subprocess.run(["psql", self.url, "-qtAF", "\t", "-c", sql], capture_output=True,
                             text=True, check=True)
        return [tuple(line.split("\t")) for line in out.stdout.splitlines() if line]


def pg_cluster_of(url):
    """The `pg_lsclusters` (version, name) serving the URL's port, to restart it."""
    port = str(urllib.parse.urlparse(url).port or 5432)
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == port:
            return parts[0], parts[1]
    raise RuntimeError(f"no local PostgreSQL cluster on port {port} (pg_lsclusters)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="the affilia binary (a release build)")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--pg-admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--kills", type=int, default=6, help="SIGKILLs of the server (>= 5)")
    ap.add_argument("--min-gap", type=float, default=2.0, help="shortest run between kills (s)")
    ap.add_argument("--max-gap", type=float, default=5.0, help="longest run between kills (s)")
    ap.add_argument("--senders", type=int, default=4, help="threads posting events")
    ap.add_argument("--clickers", type=int, default=2, help="threads following /r/ links")
    ap.add_argument("--customers", type=int, default=40)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--webhook-wait", type=float, default=900.0,
                    help="longest wait for webhook deliveries after the run, in all")
    ap.add_argument("--webhook-stall", type=float, default=120.0,
                    help="give up waiting once no delivery arrived for this long (a delivery "
                         "in flight at a kill is sent again when its 60 s lease ends)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix=f"affilia-crash-{args.db}-")
    port = free_port()
    receiver = Receiver()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFFILIA_") and k != "DATABASE_URL"}
    pg_db = None
    if args.db == "postgres":
        pg_db = f"affilia_crash_{int(time.time())}_{os.getpid()}"
        subprocess.run(["psql", args.pg_admin_url, "-qtAc", f"CREATE DATABASE {pg_db}"], check=True)
        u = urllib.parse.urlparse(args.pg_admin_url)
        db_url = urllib.parse.urlunparse(u._replace(path="/" + pg_db))
        sqlite_path = None
    else:
        sqlite_path = os.path.join(tmp, "crash.db")
        db_url = f"sqlite://{sqlite_path}"
    env.update({
        "DATABASE_URL": db_url,
        "AFFILIA_BIND": f"127.0.0.1:{port}",
        "AFFILIA_BASE_URL": f"http://127.0.0.1:{port}",
        "AFFILIA_DATA_DIR": os.path.join(tmp, "data"),
        "AFFILIA_SECRET_KEY": "crash-test-secret-key-0123456789abcdef",
        "AFFILIA_HTTP_WORKERS": "2",
        "AFFILIA_API_RATE_LIMIT_READ": "1000000",
        "AFFILIA_API_RATE_LIMIT_WRITE": "1000000",
        "AFFILIA_ALLOW_PRIVATE_WEBHOOK_URLS": "true",
        "AFFILIA_LOG_FORMAT": "json",
        "RUST_LOG": "warn,affilia=info",
    })
    db = Db(args.db, db_url, sqlite_path)
    server = Server(args.bin, env, port, os.path.join(tmp, "affilia.log"))
    violations = []
    figures = {"database": args.db, "seed": args.seed}
    try:
        log(f"{args.db}: seed {args.seed}, temp {tmp}")
        program_id, key = seed(args, env, port, receiver.port)
        server.start()
        api(port, key, "PATCH", f"/programs/{program_id}",
            {"commission": {"type": "percentage", "bps": BPS},
             "landing_url": "https://shop.crash.test/"})
        for code in CODES:
            aff = api(port, key, "POST", "/affiliates",
                      {"email": f"{code}@crash.test", "name": code, "code": code, "send_invite": False})
            api(port, key, "PATCH", f"/affiliates/{aff['id']}", {"status": "active"})
        api(port, key, "POST", "/webhook-endpoints",
            {"url": f"http://127.0.0.1:{receiver.port}/hook", "events": ["conversion.created"]})

        stream = Stream(rng, args.customers)
        clicks = {"answered": set(), "no_id": 0, "other": collections.Counter(), "tries": 0}
        clicks_lock = threading.Lock()
        generating = threading.Event()
        generating.set()
        stop = threading.Event()

        def sender():
            while not stop.is_set():
                item = stream.take(generating.is_set())
                if item is None:
                    time.sleep(0.05)
                    continue
                eid, body, dup = item
                status, _, data = http_call(port, "POST", "/api/v1/events", body,
                                            {"Authorization": f"Bearer {key}"})
                try:
                    doc = json.loads(data) if data else {}
                except ValueError:
                    doc = {"raw": data[:200].decode(errors="replace")}
                stream.answer(eid, dup, status, doc)
                if status is None:
                    time.sleep(0.05)

        def clicker(n):
            local = random.Random(args.seed * 31 + n)
            while not stop.is_set():
                if not generating.is_set():
                    time.sleep(0.05)
                    continue
                code = local.choice(CODES)
                status, headers, _ = http_call(port, "GET", f"/r/{code}?utm_source=crash",
                                               headers={"User-Agent": UA}, timeout=10)
                with clicks_lock:
                    clicks["tries"] += 1
                    if status == 302:
                        q = urllib.parse.parse_qs(urllib.parse.urlparse(headers.get("location", "")).query)
                        sess = q.get("aff_sess", [None])[0]
                        if sess:
                            clicks["answered"].add(sess)
                        else:
                            clicks["no_id"] += 1
                    elif status is not None:
                        clicks["other"][status] += 1
                if status is None:
                    time.sleep(0.05)

        threads = [threading.Thread(target=sender, daemon=True) for _ in range(args.senders)]
        threads += [threading.Thread(target=clicker, args=(i,), daemon=True) for i in range(args.clickers)]
        for t in threads:
            t.start()

        kills = pg_restarts = 0
        pg_restart_at = args.kills // 2 if args.db == "postgres" else -1
        for k in range(args.kills):
            time.sleep(rng.uniform(args.min_gap, args.max_gap))
            if k == pg_restart_at:
                ver, name = pg_cluster_of(db_url)
                log(f"restarting PostgreSQL ({ver} {name}) under load")
                subprocess.run(["pg_ctlcluster", ver, name, "restart"], check=True)
                pg_restarts += 1
                time.sleep(rng.uniform(args.min_gap, args.max_gap))
            server.kill()
            kills += 1
            log(f"kill {kills}: {len(stream.acked)} events acknowledged, "
                f"{len(clicks['answered'])} clicks answered")
            time.sleep(rng.uniform(0, 0.5))
            server.start()
        # Stop making new traffic; everything not acknowledged is re-sent until it is.
        generating.clear()
        deadline = time.time() + 120
        while time.time() < deadline:
            with stream.lock:
                pending = [e for e in stream.order if e not in stream.acked]
                for e in pending:
                    if e not in stream.in_flight and e not in stream.retry:
                        stream.retry.append(e)
            if not pending:
                break
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        violations.extend(stream.violations)
        missing_acks = stream.unacked()
        if missing_acks:
            violations.append(f"{len(missing_acks)} events never acknowledged: {missing_acks[:5]}")

        # Clicks: the list call waits for this instance's queue and spill (including what the
        # killed processes spilled, drained at start).
        api(port, key, "GET", "/clicks?per_page=1")
        stored_clicks = {r[0] for r in db.rows("SELECT id FROM clicks")}
        lost_clicks = clicks["answered"] - stored_clicks
        if lost_clicks:
            violations.append(f"{len(lost_clicks)} answered clicks not stored, e.g. {sorted(lost_clicks)[:3]}")
        if clicks["no_id"]:
            violations.append(f"{clicks['no_id']} redirects answered 302 without a click id")
        # A redirect whose code is not cached while the database is down (PostgreSQL
        # restarting) answers 503 and hands out no click id: reported, not a loss.
        for status, n in clicks["other"].items():
            if status != 503:
                violations.append(f"{n} redirects answered {status}")

        # Event log: every acknowledged event, once, processed.
        logged = collections.Counter()
        statuses = {}
        for eid, status in db.rows("SELECT event_id, status FROM billing_events"):
            logged[eid] += 1
            statuses[eid] = status
        not_logged = [e for e in stream.acked if e not in logged]
        if not_logged:
            violations.append(f"{len(not_logged)} acknowledged events missing from the log: {not_logged[:5]}")
        twice = [e for e, n in logged.items() if n > 1]
        if twice:
            violations.append(f"{len(twice)} events logged twice: {twice[:5]}")
        unknown = [e for e in logged if e not in stream.events]
        if unknown:
            violations.append(f"{len(unknown)} logged events never sent: {unknown[:5]}")
        not_processed = [(e, s) for e, s in statuses.items() if s != "processed"]
        if not_processed:
            violations.append(f"{len(not_processed)} logged events not processed: {not_processed[:5]}")

        # Conversions and commissions, recomputed from the stream.
        expected = {}
        for eid in stream.order:
            ev = stream.events[eid]
            if ev["type"] == "charge.succeeded":
                expected[eid] = {"amount": ev["amount_cents"], "refunded": 0}
        for eid in stream.order:
            ev = stream.events[eid]
            if ev["type"] == "refund.processed":
                expected[ev["charge_id"]]["refunded"] += ev["amount_cents"]
        conversions = all_pages(port, key, "/conversions")
        by_charge = collections.defaultdict(list)
        for c in conversions:
            by_charge[c["charge_id"]].append(c)
        dup_commissions = missing = wrong = 0
        for charge, want in expected.items():
            got = by_charge.get(charge, [])
            if not got:
                missing += 1
                violations.append(f"no conversion for payment {charge}")
                continue
            if len(got) > 1:
                dup_commissions += len(got) - 1
                violations.append(f"{len(got)} conversions for payment {charge}")
            c = got[0]
            commission = half_up_share(want["amount"], BPS, 10_000)
            reversed_ = half_up_share(commission, want["refunded"], want["amount"])
            coms = [m for m in c["commissions"] if m["level"] == 0]
            if len(coms) != 1:
                dup_commissions += max(0, len(coms) - 1)
                missing += 1 if not coms else 0
                violations.append(f"conversion {c['id']} has {len(coms)} direct commissions")
                continue
            m = coms[0]
            if (c["amount_cents"], c["refunded_cents"], m["amount_cents"], m["reversed_cents"]) != (
                    want["amount"], want["refunded"], commission, reversed_):
                wrong += 1
                violations.append(
                    f"payment {charge}: amount/refunded/commission/reversed "
                    f"{c['amount_cents']}/{c['refunded_cents']}/{m['amount_cents']}/{m['reversed_cents']}, "
                    f"expected {want['amount']}/{want['refunded']}/{commission}/{reversed_}")
        extra = [c["id"] for c in conversions if c["charge_id"] not in expected]
        if extra:
            dup_commissions += len(extra)
            violations.append(f"{len(extra)} conversions of no payment sent: {extra[:5]}")

        # Webhooks: the worker resumes after every kill; wait for every conversion's delivery.
        conv_ids = {c["id"] for c in conversions}
        # The worker delivers at its own pace (a fast machine makes more conversions than it
        # delivers during the run): wait while deliveries keep arriving, and call a webhook
        # lost only when nothing arrived for --webhook-stall seconds.
        deadline = time.time() + args.webhook_wait
        t0 = time.time()
        seen, last_progress = -1, time.time()
        while time.time() < deadline:
            with receiver.lock:
                if conv_ids <= set(receiver.events_of):
                    break
                now_seen = sum(receiver.deliveries.values())
            if now_seen != seen:
                seen, last_progress = now_seen, time.time()
            elif time.time() - last_progress > args.webhook_stall:
                break
            time.sleep(0.5)
        webhook_wait = time.time() - t0
        with receiver.lock:
            undelivered = conv_ids - set(receiver.events_of)
            unstable = {c: ids for c, ids in receiver.events_of.items() if len(ids) > 1}
            deliveries = sum(receiver.deliveries.values())
            dup_deliveries = sum(n - 1 for n in receiver.deliveries.values())
        if undelivered:
            violations.append(f"{len(undelivered)} conversion.created webhooks never delivered, e.g. {sorted(undelivered)[:3]}")
        if unstable:
            violations.append(f"{len(unstable)} conversions delivered under several event ids: {list(unstable.items())[:2]}")

        server.stop()
        verify = subprocess.run([args.bin, "ledger", "verify"], env=env, capture_output=True, text=True)
        if verify.returncode != 0:
            violations.append(f"affilia ledger verify failed: {verify.stdout}{verify.stderr}")

        figures.update({
            "events_sent": stream.sent,
            "events_generated": len(stream.order),
            "events_acknowledged": len(stream.acked),
            "events_resent_unacknowledged": stream.resent,
            "duplicates_sent_on_purpose": stream.dup_sent,
            "duplicates_answered_duplicate": stream.dup_ok,
            "payments": len(expected),
            "refunds": len(stream.order) - len(expected),
            "kills": kills,
            "server_starts": server.starts,
            "postgres_restarts": pg_restarts,
            "clicks_answered": len(clicks["answered"]),
            "clicks_stored": len(stored_clicks),
            "clicks_lost": len(lost_clicks),
            "redirects_not_302": dict(clicks["other"]),
            "conversions": len(conversions),
            "duplicate_commissions": dup_commissions,
            "missing_commissions": missing,
            "wrong_commissions": wrong,
            "ledger_verify": "passed" if verify.returncode == 0 else "FAILED",
            "webhook_deliveries": deliveries,
            "webhook_duplicate_deliveries": dup_deliveries,
            "webhooks_undelivered": len(undelivered),
            "webhook_wait_s": round(webhook_wait, 1),
        })
    except Exception as e:  # noqa: BLE001 - any failure of the harness is a failed run
        violations.append(f"crash test aborted: {e!r}")
    finally:
        server.stop()
        receiver.close()
        if pg_db:
            subprocess.run(["psql", args.pg_admin_url, "-qtAc", f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)"],
                           capture_output=True)
    print(f"crash test ({args.db}): " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
    for v in violations[:50]:
        print(f"VIOLATION ({args.db}): {v}", flush=True)
    if violations:
        print(f"crash test ({args.db}): FAILED with {len(violations)} violations; log: {server.log_path}", flush=True)
        sys.exit(1)
    print(f"crash test ({args.db}): passed", flush=True)
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
