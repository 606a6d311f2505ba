#!/usr/bin/env bash
# Benchmark of billing event ingest: `POST /api/v1/events` with a new charge.succeeded per
# request (store + attribute + conversion + commission + ledger, one transaction each),
# measured with wrk against the release binary on SQLite (or DATABASE_URL if set).
#
#   bash bench/ingest.sh
#   DURATION=30s CONNECTIONS=32 bash bench/ingest.sh
#
# Environment (all optional):
#   DURATION=15s  CONNECTIONS=16  THREADS=1   wrk parameters of the measured run
#   WARMUP=2s                                 unmeasured run first
#   WORKERS=$(nproc)  PORT=18090              HTTP workers and port of the server
#   CUSTOMERS=5000                            distinct customers the events cycle through
#   SKIP_BUILD=1  KEEP_TMP=1
#
# Needs: cargo, curl, wrk; sqlite3 is used for the row counts when present.
set -euo pipefail

DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-2s}
WORKERS=${WORKERS:-$(nproc)}
PORT=${PORT:-18090}
CUSTOMERS=${CUSTOMERS:-5000}
CODE=bench-code

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
AFFILIA=$TARGET_DIR/release/affilia
for tool in curl wrk; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/affilia-ingest.XXXXXX")
PID=
cleanup() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '==> %s\n' "$*" >&2; }

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "building the release binary"
    (cd "$ROOT" && cargo build --release --bin affilia)
fi

export DATABASE_URL=${DATABASE_URL:-"sqlite://$TMP/bench.db"}
export AFFILIA_DATA_DIR="$TMP/data"
export AFFILIA_BASE_URL="http://127.0.0.1:$PORT"
export AFFILIA_BIND="127.0.0.1:$PORT"
export AFFILIA_HTTP_WORKERS="$WORKERS"
# One API key sends every event: lift the per-key limit (30 writes a minute by default).
export AFFILIA_API_RATE_LIMIT_WRITE=${AFFILIA_API_RATE_LIMIT_WRITE:-1000000000}
unset RUST_LOG

log "seeding"
vendor_out=$("$AFFILIA" admin create-vendor --name "Ingest Bench" \
    --owner-email owner@ingest.bench --owner-password 'bench-password-1234')
PROGRAM_ID=$(awk '$1 == "program_id:" {print $2}' <<<"$vendor_out")
SLUG=$(awk '$1 == "slug:" {print $2}' <<<"$vendor_out")
KEY=$("$AFFILIA" admin create-api-key --vendor "$SLUG" --name bench --scope full 2>/dev/null)
[[ -n $PROGRAM_ID && $KEY == afk_* ]] || { echo "error: seeding failed: $vendor_out" >&2; exit 1; }

"$AFFILIA" serve --no-worker >"$TMP/affilia.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break
    sleep 0.1
done
API="http://127.0.0.1:$PORT/api/v1"
api() { curl -fsS -X "$1" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$API$2" ${3:+-d "$3"}; }
AFFILIATE_ID=$(api POST /affiliates \
    "{\"email\":\"bench@ingest.bench\",\"name\":\"Bench\",\"code\":\"$CODE\",\"send_invite\":false}" |
    grep -o '"id":"aff_[^"]*"' | head -1 | cut -d'"' -f4)
api PATCH "/affiliates/$AFFILIATE_ID" '{"status":"active"}' >/dev/null

# One event by hand: it must convert.
first=$(api POST /events "{\"id\":\"check\",\"type\":\"charge.succeeded\",\"customer_id\":\"cus_check\",\"amount_cents\":4900,\"currency\":\"USD\",\"occurred_at\":\"2026-11-01T12:00:00Z\",\"metadata\":{\"affiliate_code\":\"$CODE\"}}")
grep -q '"status":"processed"' <<<"$first" || { echo "error: the check event did not convert: $first" >&2; exit 1; }

export BENCH_KEY=$KEY BENCH_CODE=$CODE BENCH_CUSTOMERS=$CUSTOMERS
log "warm-up ($WARMUP)"
BENCH_RUN=warm wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$ROOT/bench/ingest.lua" "$API/events" >/dev/null
log "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (POST /api/v1/events)"
BENCH_RUN=run wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$ROOT/bench/ingest.lua" "$API/events" | tee "$TMP/wrk.txt" >&2

RPS=$(awk '/^Requests\/sec:/ {print $2}' "$TMP/wrk.txt")
P50=$(awk '$1 == "50%" {print $2}' "$TMP/wrk.txt")
P99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk.txt")
BAD=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$TMP/wrk.txt")
kill -TERM "$PID" && wait "$PID" 2>/dev/null || true
PID=

counts=""
if [[ $DATABASE_URL == sqlite://* ]] && command -v sqlite3 >/dev/null; then
    db=${DATABASE_URL#sqlite://}
    counts=$(sqlite3 "$db" "SELECT 'billing_events ' || COUNT(*) FROM billing_events; \
        SELECT 'conversions ' || COUNT(*) FROM conversions; SELECT 'commissions ' || COUNT(*) FROM commissions; \
        SELECT 'ledger_entries ' || COUNT(*) FROM ledger_entries; \
        SELECT 'failed_events ' || COUNT(*) FROM billing_events WHERE status = 'failed';")
fi
log "ledger verify"
"$AFFILIA" ledger verify >&2

echo
echo "ingest: ${RPS} events/s, p50 ${P50}, p99 ${P99}, non-2xx ${BAD:-0} (wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $WORKERS workers, $(nproc) CPUs)"
[[ -n $counts ]] && echo "$counts"
