#!/usr/bin/env bash
# Instructions per request (valgrind --tool=callgrind) of Affilia's /r/{code} and of the bare
# actix-web 302, each after a warm-up, under the same wrk load: a figure that other work on
# the machine does not disturb. Needs the release binaries (bash bench/redirect.sh builds
# them), valgrind, wrk, curl, jq. N=4s sets the measured wrk run. Keeps its temp dir.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AFFILIA=${CARGO_TARGET_DIR:-$ROOT/target}/release/affilia
BARE=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bare_redirect
TMP=$(mktemp -d "${TMPDIR:-/tmp}/affilia-callgrind.XXXXXX")
N=${N:-5s}
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36'
export DATABASE_URL="sqlite://$TMP/bench.db" AFFILIA_DATA_DIR="$TMP/data"
export AFFILIA_BASE_URL="http://127.0.0.1:18090" AFFILIA_BIND="127.0.0.1:18090" AFFILIA_HTTP_WORKERS=2
unset RUST_LOG
out=$("$AFFILIA" admin create-vendor --name "CG Shop" --owner-email o@cg.test --owner-password 'bench-password-1234')
PROGRAM_ID=$(awk '$1 == "program_id:" {print $2}' <<<"$out"); SLUG=$(awk '$1 == "slug:" {print $2}' <<<"$out")
KEY=$("$AFFILIA" admin create-api-key --vendor "$SLUG" --name cg --scope full 2>/dev/null)
"$AFFILIA" serve --no-worker >"$TMP/seed.log" 2>&1 & P=$!
for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:18090/healthz 2>/dev/null && break; sleep 0.1; done
API=http://127.0.0.1:18090/api/v1
curl -fsS -X PATCH -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$API/programs/$PROGRAM_ID" -d '{"landing_url":"https://shop.bench.test/"}' >/dev/null
AID=$(curl -fsS -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$API/affiliates" -d '{"email":"b@cg.test","name":"B","code":"bench-code","send_invite":false}' | jq -r .id)
curl -fsS -X PATCH -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$API/affiliates/$AID" -d '{"status":"active"}' >/dev/null
kill -TERM $P; wait $P || true

measure() { # name url cmd...
    local name=$1 url=$2; shift 2
    valgrind --tool=callgrind --callgrind-out-file="$TMP/cg-$name.%p" "$@" >"$TMP/$name.log" 2>&1 &
    local pid=$!
    for _ in $(seq 300); do curl -fsS -o /dev/null -A "$UA" "$url" 2>/dev/null && break; sleep 0.2; done
    wrk -t1 -c8 -d3s -H "User-Agent: $UA" "$url" >/dev/null   # warm-up
    sleep 1
    callgrind_control -z "$pid" >/dev/null
    wrk -t1 -c8 -d"$N" -H "User-Agent: $UA" "$url" >"$TMP/wrk-$name.txt"
    sleep 1.5   # the click writer's last round
    callgrind_control -d "$pid" >/dev/null
    local reqs; reqs=$(awk '/requests in/ {print $1}' "$TMP/wrk-$name.txt")
    kill -TERM "$pid"; wait "$pid" || true
    local f; f=$(ls -t "$TMP"/cg-"$name".*.1 2>/dev/null | head -1 || true)
    [[ -n $f ]] || f=$(ls -t "$TMP"/cg-"$name".* | head -1)
    local ir; ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(/,/, "", $1); print $1; exit}')
    echo "$name requests=$reqs Ir=$ir Ir/req=$(awk -v a="$ir" -v b="$reqs" 'BEGIN {printf "%.0f", a/b}') file=$f"
}
measure bare "http://127.0.0.1:18091/r/bench-code" "$BARE" 127.0.0.1:18091 2
measure affilia "http://127.0.0.1:18090/r/bench-code" "$AFFILIA" serve --no-worker
echo "kept $TMP"
