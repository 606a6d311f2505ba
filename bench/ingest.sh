#!/usr/bin/env bash
# Benchmark of billing event ingest: `POST /api/v1/events` with a new charge.succeeded per
# request (store + attribute + conversion + commission + ledger, one transaction each),
# measured with wrk against the release binary, on SQLite or on PostgreSQL.
#
#   bash bench/ingest.sh                                                   # SQLite
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bash bench/ingest.sh
#   DURATION=30s CONNECTIONS=32 bash bench/ingest.sh
#
# With a postgres:// DATABASE_URL a fresh database is created on that server for the run
# (the URL's database is only used to connect for CREATE/DROP DATABASE) and dropped after.
# After the run the server is stopped, `affilia ledger verify` is run (the script fails
# when it does not pass), and the events stored are compared with the 2xx answers (the
# script fails when an answered event is missing).
#
# Environment (all optional):
#   DURATION=15s  CONNECTIONS=16  THREADS=1   wrk parameters of the measured run
#   WARMUP=2s                                 unmeasured run first
#   WORKERS=$(nproc)  PORT=18090              HTTP workers and port of the server
#   CUSTOMERS=5000                            distinct customers the events cycle through
#   DATABASE_URL                              sqlite://... (default: a temp file) or postgres://...
#   RESULTS_JSONL=path                        append the figures as JSON lines (bench contract)
#   SKIP_BUILD=1  KEEP_TMP=1                  KEEP_TMP also keeps a PostgreSQL database
#   AFFILIA_BIN=path                          another binary (implies SKIP_BUILD; comparisons)
#   ANALYZE_AFTER_WARMUP=1                    PostgreSQL: ANALYZE after the warm-up (0: don't)
#   BENCH_RUST_LOG=                           RUST_LOG for the server (e.g. warn,sqlx::query=debug:
#                                             every statement with its time, in affilia.log; KEEP_TMP=1)
#   BENCH_SQL='...'                           SQL run on the database once the server is up
#                                             (experiments, e.g. undoing one optimisation)
#   AFFILIA_INGEST_LANES=n                    PostgreSQL writer lanes (the server's setting)
#
# Needs: cargo, curl, wrk (apt-get install -y wrk); sqlite3 for SQLite row counts, psql for
# PostgreSQL.
set -euo pipefail

DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-2s}
WORKERS=${WORKERS:-$(nproc)}
PORT=${PORT:-18090}
CUSTOMERS=${CUSTOMERS:-5000}
CODE=bench-code
TARGET_EPS_SQLITE=1500
TARGET_EPS_POSTGRES=2000
TARGET_P99_MS=50

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
AFFILIA=${AFFILIA_BIN:-$TARGET_DIR/release/affilia}
for tool in curl wrk; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required (apt-get install -y $tool)" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/affilia-ingest.XXXXXX")
PID=
PG_ADMIN_URL=
PG_DB=
cleanup() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    if [[ -n $PG_DB ]]; then
        if [[ ${KEEP_TMP:-0} == 1 ]]; then
            echo "kept database $PG_DB" >&2
        else
            psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
        fi
    fi
    if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '==> %s\n' "$*" >&2; }

if [[ ${SKIP_BUILD:-0} != 1 && -z ${AFFILIA_BIN:-} ]]; then
    log "building the release binary"
    (cd "$ROOT" && cargo build --release --bin affilia)
fi
[[ -x $AFFILIA ]] || { echo "error: $AFFILIA is missing (build it or unset SKIP_BUILD)" >&2; exit 1; }

DATABASE_URL=${DATABASE_URL:-"sqlite://$TMP/bench.db"}
case $DATABASE_URL in
postgres://* | postgresql://*)
    DBNAME=postgres
    command -v psql >/dev/null || { echo "error: psql is required for a PostgreSQL run" >&2; exit 1; }
    PG_ADMIN_URL=$DATABASE_URL
    PG_DB="affilia_bench_ingest_$$_$(date +%s)"
    # Same server and credentials, the fresh database instead of the URL's path.
    base=${DATABASE_URL%%\?*}
    query=
    [[ $DATABASE_URL == *\?* ]] && query="?${DATABASE_URL#*\?}"
    prefix=${base%/*}
    [[ $prefix == postgres: || $prefix == postgresql: ]] && prefix=$base # no path in the URL
    DATABASE_URL="$prefix/$PG_DB$query"
    log "creating database $PG_DB"
    psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
    sql() { psql -qtA "$DATABASE_URL" -c "$1"; }
    ;;
sqlite:*)
    DBNAME=sqlite
    sql() {
        command -v sqlite3 >/dev/null || return 1
        sqlite3 "${DATABASE_URL#sqlite://}" "$1"
    }
    ;;
*)
    echo "error: DATABASE_URL must be sqlite://... or postgres://..." >&2
    exit 1
    ;;
esac
export DATABASE_URL
export AFFILIA_DATA_DIR="$TMP/data"
export AFFILIA_BASE_URL="http://127.0.0.1:$PORT"
export AFFILIA_BIND="127.0.0.1:$PORT"
export AFFILIA_HTTP_WORKERS="$WORKERS"
# One API key sends every event: lift the per-key limit (30 writes a minute by default).
export AFFILIA_API_RATE_LIMIT_WRITE=${AFFILIA_API_RATE_LIMIT_WRITE:-1000000000}
[[ -n ${BENCH_RUST_LOG:-} ]] && export RUST_LOG=$BENCH_RUST_LOG || unset RUST_LOG

log "seeding ($DBNAME)"
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
if [[ -n ${BENCH_SQL:-} ]]; then
    log "running BENCH_SQL: $BENCH_SQL"
    sql "$BENCH_SQL" >/dev/null
fi
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
# PostgreSQL plans a prepared statement once per connection after its fifth run (a generic
# plan) and keeps it until the table's statistics change. On a fresh database those plans
# are made on empty, never-analyzed tables, where every index costs the same: the repeat
# check then walked the vendor's events by the status index, the referral lookup the
# vendor's referrals, and each event cost more than the one before. A running server's
# tables are analyzed by autovacuum within its first minute of traffic (its naptime),
# which replans them; the warm-up is shorter than that, so the script does what autovacuum
# would. ANALYZE_AFTER_WARMUP=0 skips it (see the README's ingest section).
if [[ $DBNAME == postgres && ${ANALYZE_AFTER_WARMUP:-1} == 1 ]]; then
    log "ANALYZE (as autovacuum would after the first minute of traffic)"
    sql "ANALYZE" >/dev/null
fi
# CPU time (clock ticks) of the server and, for a local PostgreSQL, of the database's
# backends: CPU per event is steadier than events/s on a shared machine.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_pids() {
    [[ $DBNAME == postgres ]] || return 0
    sql "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()" 2>/dev/null || true
}
declare -A PG_BEFORE=()
for p in $(pg_pids); do PG_BEFORE[$p]=$(ticks "$p"); done
SERVER_BEFORE=$(ticks "$PID")
log "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (POST /api/v1/events, $DBNAME)"
BENCH_RUN=run wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$ROOT/bench/ingest.lua" "$API/events" | tee "$TMP/wrk.txt" >&2

RPS=$(awk '/^Requests\/sec:/ {print $2}' "$TMP/wrk.txt")
P50=$(awk '$1 == "50%" {print $2}' "$TMP/wrk.txt")
P99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk.txt")
TOTAL=$(awk '/requests in/ {print $1}' "$TMP/wrk.txt")
BAD=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$TMP/wrk.txt")
BAD=${BAD:-0}
OK=$((TOTAL - BAD))
# Let the requests wrk abandoned at the end finish before stopping the server.
sleep 1
SERVER_TICKS=$(($(ticks "$PID") - SERVER_BEFORE))
PG_TICKS=0
for p in $(pg_pids); do PG_TICKS=$((PG_TICKS + $(ticks "$p") - ${PG_BEFORE[$p]:-0})); done
kill -TERM "$PID" && wait "$PID" 2>/dev/null || true
PID=

# wrk prints latencies as 812.00us / 12.34ms / 1.02s: in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
        printf "%.2f", n }'
}
P99_MS=$(to_ms "$P99")

counts=$(sql "SELECT 'billing_events ' || COUNT(*) FROM billing_events; \
    SELECT 'conversions ' || COUNT(*) FROM conversions; SELECT 'commissions ' || COUNT(*) FROM commissions; \
    SELECT 'ledger_entries ' || COUNT(*) FROM ledger_entries; \
    SELECT 'failed_events ' || COUNT(*) FROM billing_events WHERE status = 'failed';" 2>/dev/null || true)
# Events of the measured run stored (ids `run_...`), against the 2xx answers wrk counted.
# wrk drops the requests still open when its time is up; the server may finish and store
# them, so stored >= answered; fewer would be an answered event lost.
STORED=$(sql "SELECT COUNT(*) FROM billing_events WHERE event_id LIKE 'run\\_%' ESCAPE '\\'" 2>/dev/null || echo "")


log "ledger verify"
LEDGER_OK=true
"$AFFILIA" ledger verify >&2 || LEDGER_OK=false

if [[ $DBNAME == postgres ]]; then TARGET_EPS=$TARGET_EPS_POSTGRES; else TARGET_EPS=$TARGET_EPS_SQLITE; fi
EPS_MET=$(awk -v a="$RPS" -v t="$TARGET_EPS" 'BEGIN { print (a + 0 >= t) ? "true" : "false" }')
P99_MET=$(awk -v a="$P99_MS" -v t="$TARGET_P99_MS" 'BEGIN { print (a + 0 < t) ? "true" : "false" }')
STORED_OK=true
if [[ -n $STORED ]] && ((STORED < OK)); then STORED_OK=false; fi
CONDITIONS="wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $WORKERS HTTP workers, $(nproc) CPUs"

echo
echo "ingest ($DBNAME): ${RPS} events/s, p50 ${P50}, p99 ${P99}, 2xx ${OK}, non-2xx ${BAD}, stored ${STORED:-?} ($CONDITIONS)"
[[ -n $counts ]] && echo "$counts"
echo "ledger verify: $([[ $LEDGER_OK == true ]] && echo OK || echo FAILED)"
HZ=$(getconf CLK_TCK)
per_event() { awk -v t="$1" -v hz="$HZ" -v n="${STORED:-$OK}" 'BEGIN { printf "%.3f", (n > 0) ? t * 1000 / hz / n : 0 }'; }
CPU_NOTE="CPU per event: server $(per_event "$SERVER_TICKS") ms"
[[ $DBNAME == postgres ]] && CPU_NOTE="$CPU_NOTE, PostgreSQL backends $(per_event "$PG_TICKS") ms (0 when the server is not local)"
echo "$CPU_NOTE"

if [[ -n ${RESULTS_JSONL:-} ]]; then
    note="$OK events answered 2xx, ${STORED:-unknown} stored, $BAD non-2xx; $CPU_NOTE; $CONDITIONS"
    {
        printf '{"bench":"ingest","database":"%s","figure":"events/s","value":%s,"unit":"events/s","target":">= %s","met":%s,"note":"%s"}\n' \
            "$DBNAME" "${RPS:-0}" "$TARGET_EPS" "$EPS_MET" "$note"
        printf '{"bench":"ingest","database":"%s","figure":"p99 ms","value":%s,"unit":"ms","target":"< %s","met":%s,"note":"p50 %s; %s"}\n' \
            "$DBNAME" "$P99_MS" "$TARGET_P99_MS" "$P99_MET" "$P50" "$CONDITIONS"
        printf '{"bench":"ingest","database":"%s","figure":"ledger verify","value":%s,"unit":"bool","target":"passes","met":%s,"note":"affilia ledger verify after the run; %s"}\n' \
            "$DBNAME" "$LEDGER_OK" "$LEDGER_OK" "$note"
    } >>"$RESULTS_JSONL"
fi

[[ $LEDGER_OK == true ]] || { echo "error: ledger verify failed after the run" >&2; exit 1; }
[[ $STORED_OK == true ]] || { echo "error: $OK events were answered 2xx but only $STORED are stored" >&2; exit 1; }
