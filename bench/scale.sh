#!/usr/bin/env bash
# Pages and API routes at scale: loads a generated dataset into a fresh database with
# `affilia admin load-dataset`, starts the server, and times every GET route under /api/v1,
# every dashboard page and every portal page (p95 over N requests), a dry-run and a real
# payout run, the server's peak RSS, and `affilia ledger verify` at the end.
#
#   bash bench/scale.sh                                   # SQLite, quick scale
#   SCALE=full bash bench/scale.sh                        # 100k affiliates / 10M clicks / 1M conversions
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bash bench/scale.sh
#
# Environment (all optional):
#   SCALE=quick|full     quick: 10k affiliates / 1M clicks / 100k conversions (default)
#                        full: 100k affiliates / 10M clicks / 1M conversions
#   N=20                 measured requests per route (after one warm-up request)
#   DATABASE_URL         postgres://... : a fresh database is created on that server for the
#                        run and dropped afterwards (needs psql); otherwise a SQLite file in a
#                        temp dir
#   SKIP_BUILD=1         reuse ${CARGO_TARGET_DIR:-target}/release/affilia
#   RESULTS_JSONL=file   append one JSON line per figure (see bench/run.sh)
#   PORT=18090  WORKERS=$(nproc)  SEED=19
#   KEEP_TMP=1           keep the temp dir (SQLite file, server log) and the PostgreSQL database
#   SECTIONS=api,dashboard,portal,payouts   what bench/scale.py measures (a subset: faster)
#   SKIP_ROUTES=regex    routes bench/scale.py lists as skipped instead of timing them
#   AFFILIATES_OVERRIDE= CLICKS_OVERRIDE= CONVERSIONS_OVERRIDE=   other sizes (smoke runs)
#   AFFILIA_BIN=         another binary (e.g. target/debug/affilia with SKIP_BUILD=1)
#
# Needs: cargo, curl, python3 (standard library only); psql for PostgreSQL.
set -euo pipefail

SCALE=${SCALE:-quick}
N=${N:-20}
PORT=${PORT:-18090}
WORKERS=${WORKERS:-$(nproc)}
SEED=${SEED:-19}
case $SCALE in
    quick) AFFILIATES=10000 CLICKS=1000000 CONVERSIONS=100000 ;;
    full) AFFILIATES=100000 CLICKS=10000000 CONVERSIONS=1000000 ;;
    *) echo "error: SCALE must be quick or full" >&2; exit 2 ;;
esac
# Any of the three may be overridden (smoke runs).
[[ -n ${AFFILIATES_OVERRIDE:-}${CLICKS_OVERRIDE:-}${CONVERSIONS_OVERRIDE:-} ]] && SCALE=custom
AFFILIATES=${AFFILIATES_OVERRIDE:-$AFFILIATES}
CLICKS=${CLICKS_OVERRIDE:-$CLICKS}
CONVERSIONS=${CONVERSIONS_OVERRIDE:-$CONVERSIONS}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
AFFILIA=${AFFILIA_BIN:-$TARGET_DIR/release/affilia}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/affilia-scale.XXXXXX")
SERVER_PID=
PG_ADMIN_URL=
PG_DB=

log() { printf '==> %s\n' "$*" >&2; }

cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -n $PG_DB && ${KEEP_TMP:-0} == 1 ]]; then
        echo "kept database $PG_DB (drop it with: psql \"$PG_ADMIN_URL\" -c 'DROP DATABASE $PG_DB')" >&2
    elif [[ -n $PG_DB ]]; then
        psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        echo "kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in curl python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "building the release binary"
    (cd "$ROOT" && cargo build --release --bin affilia)
fi
[[ -x $AFFILIA ]] || { echo "error: missing $AFFILIA" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# Fresh database
# ---------------------------------------------------------------------------------------
if [[ ${DATABASE_URL:-} == postgres://* || ${DATABASE_URL:-} == postgresql://* ]]; then
    command -v psql >/dev/null || { echo "error: psql is required for PostgreSQL" >&2; exit 1; }
    DB_KIND=postgres
    PG_ADMIN_URL=$DATABASE_URL
    PG_DB="affilia_scale_$(date +%s)_$$"
    psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $PG_DB" >/dev/null
    # Same server and credentials, the new database as the path.
    export DATABASE_URL=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$PG_ADMIN_URL" "$PG_DB")
else
    DB_KIND=sqlite
    export DATABASE_URL="sqlite://$TMP/scale.db"
fi
export AFFILIA_DATA_DIR=$TMP/data
export AFFILIA_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export AFFILIA_BIND=127.0.0.1:$PORT
export AFFILIA_BASE_URL=http://127.0.0.1:$PORT
export AFFILIA_HTTP_WORKERS=$WORKERS
# The benchmark makes thousands of API calls a minute with one key.
export AFFILIA_API_RATE_LIMIT_READ=1000000
export AFFILIA_API_RATE_LIMIT_WRITE=1000000
export RUST_LOG=${RUST_LOG:-warn}
mkdir -p "$AFFILIA_DATA_DIR"

OWNER=owner@scale.test
PASSWORD=scale-bench-password
log "database: $DB_KIND; dataset: SCALE=$SCALE ($AFFILIATES affiliates, $CLICKS clicks, $CONVERSIONS conversions)"
"$AFFILIA" admin create-vendor --name "Scale Bench" --owner-email "$OWNER" \
    --owner-password "$PASSWORD" >"$TMP/vendor.txt"
SLUG=$(sed -n 's/^slug: //p' "$TMP/vendor.txt")
KEY=$("$AFFILIA" admin create-api-key --vendor "$SLUG" --name scale-bench 2>/dev/null)

LOAD_START=$(date +%s.%N)
# Logs go to stdout; keep the JSON report clean (the slow-statement warnings of a bulk load).
RUST_LOG=error "$AFFILIA" admin load-dataset --vendor "$SLUG" --affiliates "$AFFILIATES" --clicks "$CLICKS" \
    --conversions "$CONVERSIONS" --seed "$SEED" --json >"$TMP/report.json"
LOAD_END=$(date +%s.%N)
LOAD_SECONDS=$(python3 -c "print(round($LOAD_END - $LOAD_START, 1))")
python3 - "$TMP/report.json" <<'EOF' >&2
import json, sys
r = json.load(open(sys.argv[1]))
print("    rows: " + ", ".join(f"{t} {n:,}" for t, n in r["rows"]))
print(f"    payable affiliates {r['payable_affiliates']:,}; load {r['load_seconds']:.1f} s, ANALYZE {r['analyze_seconds']:.1f} s")
EOF
log "dataset loaded in $LOAD_SECONDS s (wall clock, statistics refresh included)"
if [[ $DB_KIND == sqlite ]]; then
    log "database size: $(du -sh "$TMP" | cut -f1)"
fi

# ---------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------
log "starting affilia serve on $AFFILIA_BASE_URL ($WORKERS HTTP workers)"
"$AFFILIA" serve >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
    curl -fsS "$AFFILIA_BASE_URL/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; exit 1; }
    sleep 0.2
done

python3 "$ROOT/bench/scale.py" --base "$AFFILIA_BASE_URL" --key "$KEY" --report "$TMP/report.json" \
    --owner-email "$OWNER" --owner-password "$PASSWORD" --slug "$SLUG" --pid "$SERVER_PID" \
    --n "$N" --database "$DB_KIND" --scale "$SCALE" --root "$ROOT" \
    --results "${RESULTS_JSONL:-}"

kill -TERM "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=

log "affilia ledger verify"
VERIFY_START=$(date +%s.%N)
if "$AFFILIA" ledger verify >"$TMP/verify.txt" 2>&1; then VERIFIED=true; else VERIFIED=false; fi
VERIFY_END=$(date +%s.%N)
tail -3 "$TMP/verify.txt" >&2
if [[ -n ${RESULTS_JSONL:-} ]]; then
    python3 - "$RESULTS_JSONL" "$DB_KIND" "$SCALE" "$LOAD_SECONDS" "$VERIFIED" \
        "$(python3 -c "print(round($VERIFY_END - $VERIFY_START, 1))")" "$TMP/report.json" <<'EOF'
import json, sys
path, db, scale, load, verified, verify_s, report = sys.argv[1:]
r = json.load(open(report))
rows = dict((t, n) for t, n in r["rows"])
with open(path, "a") as out:
    out.write(json.dumps({"bench": "scale", "database": db, "figure": "dataset load seconds",
        "value": float(load), "unit": "s", "target": "minutes", "met": float(load) < 1800,
        "note": f"SCALE={scale}: " + ", ".join(f"{t} {n}" for t, n in r["rows"])}) + "\n")
    out.write(json.dumps({"bench": "scale", "database": db, "figure": "ledger verify after the run",
        "value": 1 if verified == "true" else 0, "unit": "ok", "target": "1", "met": verified == "true",
        "note": f"SCALE={scale}, {verify_s} s, {rows.get('ledger_entries', 0)} ledger lines loaded"}) + "\n")
EOF
fi
[[ $VERIFIED == true ]] || { echo "error: ledger verify failed" >&2; exit 1; }
