#!/usr/bin/env bash
# Benchmark of the referral redirect `GET /r/{code}` against a bare actix-web handler that
# returns a fixed 302, measured with wrk in the same run on the same machine.
#
#   bash bench/redirect.sh
#   DURATION=30s CONNECTIONS=64 bash bench/redirect.sh
#
# Environment (all optional):
#   DURATION=15s  CONNECTIONS=32  THREADS=1   wrk parameters of each measured run
#   WARMUP=2s                                 unmeasured wrk run before each measured one
#   WORKERS=$(nproc)                          HTTP workers of BOTH servers
#   AFFILIA_PORT=18080  BARE_PORT=18081       listen ports (127.0.0.1)
#   BENCH_LOG_FORMAT=pretty                   Affilia's --log-format (pretty is the default)
#   BENCH_RUST_LOG=                           RUST_LOG for Affilia (empty: its default filter)
#   SKIP_BUILD=1                              reuse the release binaries already built
#   KEEP_TMP=1                                keep the temp dir (database, logs, wrk output)
#   DATABASE_URL=postgres://user@host:5432/db run on PostgreSQL: a fresh database is created
#                                             on that server for the run and dropped after
#                                             (default: a fresh SQLite file in the temp dir)
#   RESULTS_JSONL=path                        append one JSON line per figure (bench/run.sh)
#   OVERLOAD=10s                              length of the write-rate phase (0 to skip)
#
# Two phases. 1: bare vs Affilia (default settings) with wrk; every answered redirect must be
# a stored click. 2 (write rate): a second Affilia on the same database with a one-click
# queue, so every click of a wrk burst goes to the disk spill; the time the writer then takes
# to put that backlog into the database is its saturated write rate.
#
# Needs: cargo, curl, wrk (apt-get install -y wrk); sqlite3 (SQLite) or psql (PostgreSQL) to
# count clicks; jq is used when present.
set -euo pipefail

DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-2s}
WORKERS=${WORKERS:-$(nproc)}
AFFILIA_PORT=${AFFILIA_PORT:-18080}
BARE_PORT=${BARE_PORT:-18081}
BENCH_LOG_FORMAT=${BENCH_LOG_FORMAT:-pretty}
BENCH_RUST_LOG=${BENCH_RUST_LOG:-}
CODE=bench-code
LANDING=https://shop.bench.test/
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36'

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
AFFILIA=$TARGET_DIR/release/affilia
BARE=$TARGET_DIR/release/examples/bare_redirect

for tool in curl wrk; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/affilia-bench.XXXXXX")
AFFILIA_PID=
BARE_PID=

cleanup() {
    local pid
    for pid in "$BARE_PID" "$AFFILIA_PID"; do
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ -n ${OVER_PID:-} ]] && kill -0 "$OVER_PID" 2>/dev/null; then
        kill -TERM "$OVER_PID" 2>/dev/null || true
        wait "$OVER_PID" 2>/dev/null || true
    fi
    if [[ -n ${PG_DB:-} ]]; then
        psql "$SERVER_URL" -qtAc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null || true
    fi
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        echo "kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "building release binaries"
    (cd "$ROOT" && cargo build --release --bin affilia --example bare_redirect)
fi
[[ -x $AFFILIA && -x $BARE ]] || { echo "error: missing $AFFILIA or $BARE" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# Fresh database and seed data
# ---------------------------------------------------------------------------------------
SERVER_URL=${DATABASE_URL:-}
PG_DB=
if [[ $SERVER_URL == postgres://* || $SERVER_URL == postgresql://* ]]; then
    command -v psql >/dev/null || { echo "error: psql is required for PostgreSQL" >&2; exit 1; }
    DB_KIND=postgres
    PG_DB="affilia_bench_$(date +%s)_$$"
    psql "$SERVER_URL" -qtAc "CREATE DATABASE $PG_DB" >/dev/null
    # Same server and credentials, the fresh database's name as the path.
    DATABASE_URL=$(sed -E "s#^(postgres(ql)?://[^/]+)(/[^?]*)?#\1/$PG_DB#" <<<"$SERVER_URL")
    export DATABASE_URL
else
    DB_KIND=sqlite
    export DATABASE_URL="sqlite://$TMP/bench.db"
fi
count_clicks() { # [where-clause]
    if [[ $DB_KIND == postgres ]]; then
        psql "$DATABASE_URL" -qtAc "SELECT COUNT(*) FROM clicks ${1:-}"
    elif command -v sqlite3 >/dev/null; then
        sqlite3 "$TMP/bench.db" "SELECT COUNT(*) FROM clicks ${1:-}"
    fi
}
export AFFILIA_DATA_DIR="$TMP/data"
export AFFILIA_BASE_URL="http://127.0.0.1:$AFFILIA_PORT"
export AFFILIA_BIND="127.0.0.1:$AFFILIA_PORT"
export AFFILIA_HTTP_WORKERS="$WORKERS"
export AFFILIA_LOG_FORMAT="$BENCH_LOG_FORMAT"
if [[ -n $BENCH_RUST_LOG ]]; then export RUST_LOG="$BENCH_RUST_LOG"; else unset RUST_LOG; fi

log "seeding $DATABASE_URL"
vendor_out=$("$AFFILIA" admin create-vendor --name "Bench Shop" \
    --owner-email owner@bench.test --owner-password 'bench-password-1234')
PROGRAM_ID=$(awk '$1 == "program_id:" {print $2}' <<<"$vendor_out")
SLUG=$(awk '$1 == "slug:" {print $2}' <<<"$vendor_out")
KEY=$("$AFFILIA" admin create-api-key --vendor "$SLUG" --name bench --scope full 2>/dev/null)
[[ -n $PROGRAM_ID && $KEY == afk_* ]] || { echo "error: seeding failed: $vendor_out" >&2; exit 1; }

log "starting affilia serve --no-worker on $AFFILIA_BIND ($WORKERS workers)"
"$AFFILIA" serve --no-worker >"$TMP/affilia.log" 2>&1 &
AFFILIA_PID=$!

wait_up() { # url
    local i
    for i in $(seq 1 100); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "error: $1 did not come up" >&2
    return 1
}
wait_up "http://127.0.0.1:$AFFILIA_PORT/healthz" || { cat "$TMP/affilia.log" >&2; exit 1; }

API="http://127.0.0.1:$AFFILIA_PORT/api/v1"
api() { # method path [json]
    curl -fsS -X "$1" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        "$API$2" ${3:+-d "$3"}
}
json_id() { # the top-level "id" of a JSON object on stdin
    if command -v jq >/dev/null; then jq -r .id; else grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4; fi
}

api PATCH "/programs/$PROGRAM_ID" "{\"landing_url\":\"$LANDING\"}" >/dev/null
AFFILIATE_ID=$(api POST /affiliates \
    "{\"email\":\"bench@bench.test\",\"name\":\"Bench Affiliate\",\"code\":\"$CODE\",\"send_invite\":false}" |
    json_id)
api PATCH "/affiliates/$AFFILIATE_ID" '{"status":"active"}' >/dev/null

# ---------------------------------------------------------------------------------------
# Check the redirect, start the baseline
# ---------------------------------------------------------------------------------------
AFFILIA_URL="http://127.0.0.1:$AFFILIA_PORT/r/$CODE"
BARE_URL="http://127.0.0.1:$BARE_PORT/r/$CODE"

check_redirect() { # url expected-location-substring
    local headers status location
    headers=$(curl -sS -o /dev/null -D - -A "$UA" "$1")
    status=$(head -1 <<<"$headers" | awk '{print $2}')
    location=$(grep -i '^location:' <<<"$headers" | tr -d '\r' | cut -d' ' -f2-)
    if [[ $status != 302 || $location != *"$2"* ]]; then
        echo "error: $1 answered $status, Location '$location' (expected 302 with '$2')" >&2
        return 1
    fi
    log "$1 -> $status $location"
}
check_redirect "$AFFILIA_URL" "ref=$CODE&aff_sess=clk_"
VERIFY_CLICKS=1

log "starting bare_redirect on 127.0.0.1:$BARE_PORT ($WORKERS workers)"
"$BARE" "127.0.0.1:$BARE_PORT" "$WORKERS" 2>"$TMP/bare.log" &
BARE_PID=$!
for _ in $(seq 1 100); do
    curl -sS -o /dev/null "$BARE_URL" 2>/dev/null && break
    sleep 0.1
done
check_redirect "$BARE_URL" "ref=x&aff_sess=y"

# ---------------------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------------------
TICKS=$(getconf CLK_TCK)
cpu_ticks() { # pid → utime + stime of the whole process (all threads)
    awk '{print $14 + $15}' "/proc/$1/stat"
}

to_ms() { # "1.23ms" | "850.00us" | "1.02s" → milliseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n = n / 1000
        else if (v ~ /ms$/) n = n
        else if (v ~ /m$/) n = n * 60000
        else if (v ~ /s$/) n = n * 1000
        printf "%.3f", n
    }'
}

machine_ticks() { # "busy total" jiffies of all CPUs from /proc/stat
    awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

# run_wrk name url pid → sets R_RPS R_P50 R_P99 R_REQS R_BAD R_ERR R_CPU R_WRK R_BUSY R_WARM
run_wrk() {
    local name=$1 url=$2 pid=$3 out=$TMP/wrk-$1.txt t0 t1 m0 m1 secs TIMEFORMAT='%3U %3S'
    log "warm-up $name ($WARMUP)"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -H "User-Agent: $UA" "$url" >"$TMP/wrk-$name-warmup.txt"
    R_WARM=$(awk '/requests in/ {print $1}' "$TMP/wrk-$name-warmup.txt")
    log "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency $url"
    t0=$(cpu_ticks "$pid")
    m0=$(machine_ticks)
    { time wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "User-Agent: $UA" "$url" >"$out"; } 2>"$TMP/time-$name.txt"
    m1=$(machine_ticks)
    t1=$(cpu_ticks "$pid")
    cat "$out" >&2
    secs=$(awk '/requests in/ {sub(/s,$/, "", $4); print $4}' "$out")
    R_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    R_P50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
    R_P99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
    R_REQS=$(awk '/requests in/ {print $1}' "$out")
    R_BAD=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
    R_BAD=${R_BAD:-0}
    R_ERR=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' "$out")
    R_ERR=${R_ERR:-0}
    # CPU during the measured run, in cores (1.00 = one core fully busy): the server, wrk,
    # and the whole machine (busy share of all CPUs).
    R_CPU=$(awk -v a="$t0" -v b="$t1" -v hz="$TICKS" -v s="$secs" \
        'BEGIN { printf "%.2f", (b - a) / hz / (s > 0 ? s : 1) }')
    R_WRK=$(awk -v s="$secs" '{ printf "%.2f", ($1 + $2) / (s > 0 ? s : 1) }' "$TMP/time-$name.txt")
    R_BUSY=$(awk -v a="$m0" -v b="$m1" 'BEGIN {
        split(a, x, " "); split(b, y, " "); printf "%.0f %%", 100 * (y[1] - x[1]) / (y[2] - x[2]) }')
}

run_wrk bare "$BARE_URL" "$BARE_PID"
B_RPS=$R_RPS B_P50=$R_P50 B_P99=$R_P99 B_REQS=$R_REQS B_BAD=$R_BAD B_ERR=$R_ERR B_CPU=$R_CPU B_WRK=$R_WRK B_BUSY=$R_BUSY
run_wrk affilia "$AFFILIA_URL" "$AFFILIA_PID"
A_RPS=$R_RPS A_P50=$R_P50 A_P99=$R_P99 A_REQS=$R_REQS A_BAD=$R_BAD A_ERR=$R_ERR A_CPU=$R_CPU A_WRK=$R_WRK A_BUSY=$R_BUSY A_WARM=$R_WARM
# Every answered redirect is a click: the check request, the warm-up and the measured run
# (wrk does not count requests still in flight when it stops, up to one per connection).
EXPECTED_CLICKS=$((VERIFY_CLICKS + A_WARM + A_REQS))

# ---------------------------------------------------------------------------------------
# Clicks written, graceful shutdown
# ---------------------------------------------------------------------------------------
# Every click answered so far must end up in the database: the list call flushes the queue
# and the spill first.
api GET "/clicks?per_page=1" >/dev/null

log "stopping affilia (SIGTERM) and waiting for it to exit"
kill -TERM "$AFFILIA_PID"
wait "$AFFILIA_PID" || true
AFFILIA_PID=

writer_field() { # log-file field -> the field of the last "click writer flushed" line
    sed 's/\x1b\[[0-9;]*m//g' "$1" | grep 'click writer flushed' | tail -1 |
        grep -o "$2[=\":]*[0-9]*" | grep -o '[0-9]*$' || true
}
WRITTEN=$(writer_field "$TMP/affilia.log" written)
SPILLED=$(writer_field "$TMP/affilia.log" spilled)
LOST_LOG=$(writer_field "$TMP/affilia.log" lost)
if [[ -n $WRITTEN ]]; then
    WRITER_LINE="written=$WRITTEN spilled=${SPILLED:-?} lost=${LOST_LOG:-?}"
else
    WRITER_LINE="no 'click writer flushed' line in the log (RUST_LOG hides INFO?)"
fi
DB_CLICKS=$(count_clicks)
DB_BOTS=$(count_clicks "WHERE is_bot = 1")
CLICK_SOURCE="SELECT COUNT(*) FROM clicks ($DB_KIND)"
LOST=$((EXPECTED_CLICKS - ${DB_CLICKS:-0}))

# ---------------------------------------------------------------------------------------
# Write rate: a backlog on disk, drained by the writer alone
# ---------------------------------------------------------------------------------------
OVERLOAD=${OVERLOAD:-10s}
W_RATE= W_BACKLOG= W_SECS= W_LOST= O_RPS= O_SPILLED=
if [[ $OVERLOAD != 0 ]]; then
    log "write-rate phase: affilia with a one-click queue, wrk for $OVERLOAD"
    AFFILIA_CLICK_QUEUE=1 AFFILIA_CLICK_QUEUE_WAIT_MS=0 AFFILIA_DATA_DIR="$TMP/data-overload" \
        "$AFFILIA" serve --no-worker >"$TMP/affilia-overload.log" 2>&1 &
    OVER_PID=$!
    wait_up "http://127.0.0.1:$AFFILIA_PORT/healthz" || { cat "$TMP/affilia-overload.log" >&2; exit 1; }
    before=$(count_clicks)
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$OVERLOAD" -H "User-Agent: $UA" "$AFFILIA_URL" >"$TMP/wrk-overload.txt"
    O_REQS=$(awk '/requests in/ {print $1}' "$TMP/wrk-overload.txt")
    O_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$TMP/wrk-overload.txt")
    at_end=$(count_clicks)
    t0=$(date +%s.%N)
    api GET "/clicks?per_page=1" >/dev/null   # returns once queue and spill are drained
    t1=$(date +%s.%N)
    after=$(count_clicks)
    W_BACKLOG=$((after - at_end))
    W_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    W_RATE=$(awk -v n="$W_BACKLOG" -v s="$W_SECS" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
    # wrk does not count the requests in flight when it stops (up to one per connection).
    W_LOST=$((O_REQS - (after - before)))
    kill -TERM "$OVER_PID"; wait "$OVER_PID" || true; OVER_PID=
    O_SPILLED=$(writer_field "$TMP/affilia-overload.log" spilled)
fi
kill -TERM "$BARE_PID"
wait "$BARE_PID" || true
BARE_PID=

# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------
lost=$(awk -v e="$EXPECTED_CLICKS" -v l="$LOST" 'BEGIN { printf "%d (%.1f %%)", l, 100 * l / e }')
ratio=$(awk -v a="$A_RPS" -v b="$B_RPS" 'BEGIN { printf "%.1f %%", 100 * a / b }')
RATIO=$(awk -v a="$A_RPS" -v b="$B_RPS" 'BEGIN { printf "%.3f", a / b }')
RATIO_MET=$(awk -v r="$RATIO" 'BEGIN { print (r >= 0.8) ? "true" : "false" }')
P99_MET=$(awk -v p="$A_P99" 'BEGIN { print (p < 5) ? "true" : "false" }')
LOST_MET=$( ((LOST <= 0)) && echo true || echo false)
met_word() { [[ $1 == true ]] && echo MET || echo "NOT MET"; }
cat <<REPORT

### GET /r/{code}: Affilia vs bare actix-web 302 ($DB_KIND)

wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -H 'User-Agent: <Chrome UA>' (warm-up $WARMUP each), $WORKERS HTTP workers per server, $(nproc) CPUs, Affilia log format $BENCH_LOG_FORMAT${BENCH_RUST_LOG:+, RUST_LOG=$BENCH_RUST_LOG}

| target | req/s | p50 (ms) | p99 (ms) | throughput vs bare | requests | non-3xx | socket errors | server CPU (cores) | wrk CPU (cores) | machine CPU busy |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| bare actix-web 302 (:$BARE_PORT) | $B_RPS | $B_P50 | $B_P99 | 100 % | $B_REQS | $B_BAD | $B_ERR | $B_CPU | $B_WRK | $B_BUSY |
| Affilia /r/$CODE (:$AFFILIA_PORT) | $A_RPS | $A_P50 | $A_P99 | $ratio | $A_REQS | $A_BAD | $A_ERR | $A_CPU | $A_WRK | $A_BUSY |

Clicks: ${DB_CLICKS:-?} rows in the clicks table ($CLICK_SOURCE; bots: ${DB_BOTS:-?}); answered $EXPECTED_CLICKS ($VERIFY_CLICKS check + $A_WARM warm-up + $A_REQS measured; wrk does not count up to $CONNECTIONS requests in flight when it stops, so a few more rows than that is normal): $lost not stored.
Click writer at shutdown: $WRITER_LINE.
Targets: throughput >= 80 % of bare -> $(met_word "$RATIO_MET"); p99 < 5 ms -> $(met_word "$P99_MET"); clicks lost == 0 -> $(met_word "$LOST_MET").
REPORT
if [[ -n $W_RATE ]]; then
    cat <<REPORT
Write rate ($DB_KIND): with a one-click queue every click of a $OVERLOAD wrk burst ($O_RPS req/s, ${O_SPILLED:-?} spilled) went to the disk spill; the writer then stored the remaining backlog of $W_BACKLOG clicks in $W_SECS s = $W_RATE clicks/s (writer alone: spill read + insert). Clicks of that phase not stored: $W_LOST.
REPORT
fi

if [[ -n ${RESULTS_JSONL:-} ]]; then
    emit() { # figure value unit target met note
        printf '{"bench":"redirect","database":"%s","figure":"%s","value":%s,"unit":"%s","target":"%s","met":%s,"note":"%s"}\n' \
            "$DB_KIND" "$1" "$2" "$3" "$4" "$5" "$6" >>"$RESULTS_JSONL"
    }
    emit "throughput vs bare actix 302" "$RATIO" ratio ">= 0.8" "$RATIO_MET" "$A_RPS req/s vs $B_RPS"
    emit "p99" "$A_P99" ms "< 5" "$P99_MET" "wrk -c$CONNECTIONS, $WORKERS workers"
    emit "clicks lost" "$((LOST > 0 ? LOST : 0))" count "== 0" "$LOST_MET" "$DB_CLICKS stored of $EXPECTED_CLICKS answered; ${SPILLED:-0} spilled to disk"
    if [[ -n $W_RATE ]]; then
        emit "click write rate" "$W_RATE" "clicks/s" "report only" null "backlog of $W_BACKLOG drained in $W_SECS s after a $OVERLOAD burst at $O_RPS req/s; lost in that phase: $W_LOST"
    fi
fi
