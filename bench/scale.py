#!/usr/bin/env python3
"""Measures a running Affilia server loaded by `affilia admin load-dataset` (see bench/scale.sh).

Times N sequential requests (after one unmeasured warm-up request) for:
- every GET route under /api/v1 in /api/openapi.json, path parameters filled with dataset ids,
  plus the filtered variants that were slow at scale (an affiliate's clicks, a deep page of
  pending conversions, a search by email, the last page of affiliates, ...);
- every GET page of the vendor dashboard (read from src/http/dashboard/mod.rs), signed in
  as the owner, and of the affiliate portal (src/http/portal/mod.rs), signed in through a
  signed portal link as the busiest affiliate;
- a dry-run payout run (3 times) and one real payout run;
and the server's peak RSS (VmHWM). Prints a table and appends one JSON line per figure to
RESULTS_JSONL when given (the bench result contract of bench/run.sh).

Standard library only.
"""

import argparse
import http.client
import json
import math
import os
import re
import sys
import time
import urllib.parse

TARGET_MS = 150.0


class Client:
    """One keep-alive HTTP/1.1 connection with a cookie jar (name → value)."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port or 80
        self.cookies = {}
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)

    def request(self, method, path, headers=None, body=None):
        """(status, headers, body bytes, seconds)."""
        hdrs = {"User-Agent": "affilia-scale-bench"}
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        hdrs.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        for attempt in range(2):
            if self.conn is None:
                self._connect()
            try:
                start = time.perf_counter()
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                elapsed = time.perf_counter() - start
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                k, _, rest = value.partition("=")
                self.cookies[k.strip()] = rest.split(";", 1)[0]
        return resp.status, dict(resp.getheaders()), data, elapsed


def pct(values, p):
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def get_routes(source, prefix=""):
    """GET routes of a route table: `route!(GET "/path" => ...)` entries (and plain actix
    `.route("/path", web::get()...)` calls)."""
    text = open(source, encoding="utf-8").read()
    text = re.sub(r"\s+", " ", text)
    found = re.findall(r'route!\( ?GET "([^"]*)"', text)
    found += re.findall(r'\.route\( ?"([^"]*)", ?web::get\(\)', text)
    if not found:
        sys.exit(f"error: no GET route found in {source}: has the route table changed form?")
    return [prefix + m for m in found]


def payout_runs(api, auth):
    """Three dry-run payout runs and one real one: (dry times, real time, payouts paid,
    payouts planned, answer size, status of the real run)."""
    print("Payout runs", flush=True)
    dry_times, planned, size = [], 0, 0
    for _ in range(3):
        status, _, data, t = api.request("POST", "/api/v1/payouts/run", headers=auth,
                                         body={"dry_run": True})
        dry_times.append(t)
        body = json.loads(data)
        planned = sum(len(r["payouts"]) for r in body.get("runs", []))
        size = len(data)
    print(f"  dry run: {max(dry_times):.2f} s max of 3, {planned} payouts, {size} B", flush=True)
    status, _, data, real = api.request("POST", "/api/v1/payouts/run", headers=auth, body={})
    body = json.loads(data)
    paid = sum(len(r["payouts"]) for r in body.get("runs", []))
    print(f"  real run: {real:.2f} s, status {status}, {paid} payouts, {len(data)} B", flush=True)
    return dry_times, real, paid, planned, size, status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--owner-email", required=True)
    ap.add_argument("--owner-password", required=True)
    ap.add_argument("--slug", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--database", required=True)
    ap.add_argument("--scale", required=True)
    ap.add_argument("--root", default=".")
    ap.add_argument("--results", default=os.environ.get("RESULTS_JSONL", ""))
    ap.add_argument("--sections", default=os.environ.get("SECTIONS", "api,dashboard,portal,payouts"),
                    help="what to measure, comma-separated: api, dashboard, portal, payouts "
                         "(e.g. `dashboard,portal` against a server already measured)")
    ap.add_argument("--skip", default=os.environ.get("SKIP_ROUTES", ""),
                    help="regular expression: routes it matches are listed as skipped")
    args = ap.parse_args()
    sections = set(args.sections.split(","))

    report = json.load(open(args.report))
    busiest = report["busiest_affiliate_id"]
    typical = report["typical_affiliate_id"]
    typical_email = report["typical_affiliate_email"]
    api = Client(args.base)
    auth = {"Authorization": f"Bearer {args.key}"}
    results = []  # (surface, figure, p50, p95, status, bytes, note)

    def api_json(path, method="GET", body=None, headers=None):
        status, _, data, _ = api.request(method, path, headers=headers or auth, body=body)
        try:
            return status, json.loads(data or b"null")
        except ValueError:
            return status, None

    def hwm_mb():
        # The server's peak RSS so far: printed after each route, so the route that raised
        # it shows (the peak only grows).
        with open(f"/proc/{args.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def measure(surface, figure, client, path, headers=None, n=None):
        if args.skip and re.search(args.skip, figure):
            skipped(surface, figure, "skipped by --skip")
            return
        n = n or args.n
        status, _, data, _ = client.request("GET", path, headers=headers)  # warm-up
        times = []
        for _ in range(n):
            status, _, data, t = client.request("GET", path, headers=headers)
            times.append(t * 1000)
        p50, p95 = pct(times, 50), pct(times, 95)
        results.append((surface, figure, p50, p95, status, len(data), ""))
        print(f"  {p95:9.1f} ms p95 {p50:9.1f} ms p50  {status}  {len(data):>9} B  "
              f"peak RSS {hwm_mb():5.0f} MB  {figure}", flush=True)

    def skipped(surface, figure, why):
        results.append((surface, figure, None, None, None, None, why))
        print(f"  {'skipped':>9}                        {figure}: {why}", flush=True)

    # Ids to fill path parameters with, from the lists themselves.
    def first_id(path, field="id"):
        status, body = api_json(path + ("&" if "?" in path else "?") + "per_page=1")
        if status == 200 and body and body.get("data"):
            return body["data"][0].get(field)
        return None

    ids = {
        "affiliates": busiest,
        "conversions": first_id(f"/api/v1/conversions?affiliate_id={busiest}"),
        "deals": first_id("/api/v1/deals"),
        "events": first_id("/api/v1/events"),
        "payout-runs": first_id("/api/v1/payout-runs"),
        "payouts": first_id(f"/api/v1/payouts?affiliate_id={busiest}"),
        "programs": report["program_id"],
        "referrals": first_id(f"/api/v1/referrals?affiliate_id={busiest}"),
        "consumers": first_id("/api/v1/consumers"),
        "webhook-endpoints": first_id("/api/v1/webhook-endpoints"),
    }
    customer = first_id(f"/api/v1/referrals?affiliate_id={busiest}", "customer_id")
    application_email = first_id("/api/v1/applications", "email")
    _, page = api_json("/api/v1/affiliates?per_page=20")
    last_page = max(1, math.ceil((page or {}).get("total", 0) / 20))
    status, tok = api_json(f"/api/v1/affiliates/{busiest}/token", "POST", {})
    me = {"Authorization": f"Bearer {tok['token']}"} if status in (200, 201) else None

    # ---- API ----------------------------------------------------------------------------
    print(f"API (GET /api/v1, N={args.n}, busiest affiliate {busiest})", flush=True)
    status, spec = api_json("/api/openapi.json", headers={})
    paths = sorted(p for p, ops in spec["paths"].items() if "get" in ops and p.startswith("/api/v1"))
    program = report["program_id"]
    year_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 365 * 86400))
    extra = {
        "/api/v1/affiliates": [f"?search={urllib.parse.quote(typical_email.split('@')[0])}",
                               f"?page={last_page}", "?status=active"],
        "/api/v1/analytics": [f"?from={year_ago}"],
        "/api/v1/clicks": [f"?affiliate_id={{busiest}}", "?affiliate_id={typical}"],
        "/api/v1/commissions": ["?affiliate_id={busiest}", "?status=available"],
        "/api/v1/conversions": ["?status=pending&page=100", "?affiliate_id={busiest}",
                                "?affiliate_id={typical}"],
        "/api/v1/ledger": ["?affiliate_id={busiest}"],
        "/api/v1/payouts": ["?affiliate_id={busiest}", "?status=paid"],
        "/api/v1/referrals": ["?affiliate_id={busiest}"],
        "/api/v1/me/stats": ["?period=90d", "?period=12m"],
        "/api/v1/me/commissions": ["?status=available"],
    }
    for path in paths if "api" in sections else []:
        variants = [""] + extra.get(path, [])
        headers = me if path.startswith("/api/v1/me") else auth
        if headers is None:
            skipped("api", path, "no affiliate token")
            continue
        filled = path
        missing = None
        for param in re.findall(r"\{([^}]+)\}", path):
            if param == "customer_id":
                value = customer
            elif param == "id":
                collection = path.split("/")[3]
                value = ids.get(collection)
            else:
                value = None
            if value is None:
                missing = param
                break
            filled = filled.replace("{" + param + "}", value)
        if missing:
            skipped("api", path, f"no {path.split('/')[3]} in the dataset")
            continue
        if path == "/api/v1/applications/status":
            if not application_email:
                skipped("api", path, "no application")
                continue
            variants = [f"?email={urllib.parse.quote(application_email)}&program_id={program}"]
        for v in variants:
            query = v.replace("{busiest}", busiest).replace("{typical}", typical)
            measure("api", path + v, api, filled + query, headers)

    # ---- Dashboard ----------------------------------------------------------------------
    dash = Client(args.base)
    _, _, html, _ = dash.request("GET", "/login")
    m = re.search(rb'name="csrf_token" value="([^"]+)"', html)
    form = urllib.parse.urlencode({
        "email": args.owner_email, "password": args.owner_password,
        "csrf_token": m.group(1).decode() if m else "",
    }).encode()
    status, _, _, _ = dash.request("POST", "/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Origin": args.base})
    print(f"Dashboard (signed in: {status}, N={args.n})", flush=True)
    dash_ids = {
        "affiliates": busiest, "conversions": ids["conversions"], "payouts": ids["payouts"],
        "runs": ids["payout-runs"], "programs": program, "webhooks": ids["webhook-endpoints"],
    }
    dash_extra = {
        "/dashboard/affiliates": [f"?search={urllib.parse.quote(typical_email.split('@')[0])}",
                                  f"?page={last_page}"],
        "/dashboard/conversions": ["?status=pending&page=100"],
        "/dashboard": ["?period=7d", "?period=90d", "?period=12m"],
        "/dashboard/reports": ["?sort=-clicks", "?period=90d&page=20", "?by=program"],
    }
    for route in get_routes(os.path.join(args.root, "src/http/dashboard/mod.rs")):
        if not route.startswith("/dashboard") or "dashboard" not in sections:
            continue  # sign-in and set-up pages
        parts = route.split("/")
        filled, missing = [], None
        for i, part in enumerate(parts):
            if part.startswith("{"):
                key = parts[i - 1]
                if dash_ids.get(key) is None:
                    missing = key
                    break
                filled.append(dash_ids[key])
            else:
                filled.append(part)
        if missing:
            skipped("dashboard", route, f"no {missing} in the dataset")
            continue
        for v in [""] + dash_extra.get(route, []):
            measure("dashboard", route + v, dash, "/".join(filled) + v)

    # ---- Portal -------------------------------------------------------------------------
    portal = Client(args.base)
    status, link = api_json(f"/api/v1/affiliates/{busiest}/portal-link", "POST", {})
    path = urllib.parse.urlsplit(link["url"]).path
    status, _, _, _ = portal.request("GET", path)
    base = f"/p/{args.slug}"
    print(f"Portal {base} (signed in: {status}, N={args.n})", flush=True)
    status, mine = api_json("/api/v1/me/payouts?per_page=1", headers=me)
    portal_ids = {"payouts": (mine or {}).get("data", [{}])[0].get("id") if mine and mine.get("data") else None}
    portal_extra = {"/": ["?period=90d", "?period=12m"], "/commissions": ["?status=available"]}
    skip_portal = {"", "/brand.css", "/logo", "/apply", "/login", "/application",
                   "/login/portal/{token}", "/login/link/{token}"}
    for route in get_routes(os.path.join(args.root, "src/http/portal/mod.rs")):
        if route in skip_portal or "portal" not in sections:
            continue
        parts = route.split("/")
        filled, missing = [], None
        for i, part in enumerate(parts):
            if part.startswith("{"):
                key = parts[i - 1]
                if portal_ids.get(key) is None:
                    missing = key
                    break
                filled.append(portal_ids[key])
            else:
                filled.append(part)
        if missing:
            skipped("portal", route, f"no {missing} of this affiliate")
            continue
        for v in [""] + portal_extra.get(route, []):
            measure("portal", route + v, portal, base + "/".join(filled) + v)

    # ---- Payout runs --------------------------------------------------------------------
    dry_times, planned, size, real, paid, status = [0.0], 0, 0, 0.0, 0, None
    if "payouts" in sections:
        dry_times, real, paid, planned, size, status = payout_runs(api, auth)

    hwm_kb = 0
    with open(f"/proc/{args.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm_kb = int(line.split()[1])
    rss_mb = hwm_kb / 1024
    print(f"Peak server RSS (VmHWM): {rss_mb:.0f} MB", flush=True)

    # ---- Table and JSON lines -----------------------------------------------------------
    measured = [r for r in results if r[3] is not None]
    slow = sorted((r for r in measured if r[3] >= TARGET_MS), key=lambda r: -r[3])
    print()
    print(f"| surface | route | p50 ms | p95 ms | < {TARGET_MS:.0f} ms |")
    print("|---|---|---:|---:|---|")
    for surface, figure, p50, p95, status, nbytes, note in results:
        if p95 is None:
            print(f"| {surface} | `{figure}` | – | – | skipped: {note} |")
        else:
            met = "yes" if p95 < TARGET_MS else f"**no** (+{p95 - TARGET_MS:.0f} ms)"
            print(f"| {surface} | `{figure}` | {p50:.1f} | {p95:.1f} | {met} |")
    print(f"\n{len(measured)} routes measured, {len(slow)} at or above {TARGET_MS:.0f} ms p95; "
          f"payout dry run {max(dry_times):.2f} s / real run {real:.2f} s over {paid} "
          f"affiliates; peak RSS {rss_mb:.0f} MB")
    if slow:
        print("slowest: " + "; ".join(f"{r[1]} {r[3]:.0f} ms" for r in slow[:10]))

    if args.results:
        with open(args.results, "a") as out:
            def line(figure, value, unit, target, met, note):
                out.write(json.dumps({"bench": "scale", "database": args.database,
                                      "figure": figure, "value": round(value, 3), "unit": unit,
                                      "target": target, "met": met, "note": note}) + "\n")
            for surface, figure, p50, p95, status, nbytes, note in measured:
                line(f"{surface} GET {figure} p95", p95, "ms", f"< {TARGET_MS:.0f}",
                     p95 < TARGET_MS,
                     f"SCALE={args.scale}, N={args.n}, p50 {p50:.1f} ms, HTTP {status}, {nbytes} B")
            if "payouts" in sections:
                line("payout run (dry) seconds", max(dry_times), "s", "< 10", max(dry_times) < 10,
                     f"SCALE={args.scale}, max of 3, {planned} payouts planned, {size} B answer")
                line("payout run seconds", real, "s", "< 10", real < 10,
                     f"SCALE={args.scale}, {paid} payouts created, HTTP {status}")
            line("peak server RSS", rss_mb, "MB", "< 200", rss_mb < 200,
                 f"SCALE={args.scale}, VmHWM after every measurement and both payout runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
