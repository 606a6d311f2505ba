#!/usr/bin/env bash
# Schemathesis against a running `affilia serve`: every operation of /api/openapi.json, with
# every default check, on a fresh database. Fails on any finding.
#
#   tests/schemathesis/run.sh sqlite
#   tests/schemathesis/run.sh postgres [postgres://postgres@127.0.0.1:5432/postgres]
#
# Needs the debug binary (`cargo build`) and schemathesis (tests/schemathesis/requirements.txt;
# ST_VENV names a venv that has it, default .venv-schemathesis, created when missing).
# ST_MAX_EXAMPLES bounds the examples per operation (default 15: both databases together take
# a few minutes on two cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
DB_KIND="${1:-sqlite}"
PG_ADMIN_URL="${2:-${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}}"
ST_VENV="${ST_VENV:-.venv-schemathesis}"
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-15}"
BIN="${AFFILIA_BIN:-target/debug/affilia}"

if [ ! -x "$ST_VENV/bin/schemathesis" ]; then
  python3 -m venv "$ST_VENV"
  "$ST_VENV/bin/pip" install -q -r tests/schemathesis/requirements.txt
fi
[ -x "$BIN" ] || cargo build

WORK="$(mktemp -d)"
PG_DB=""
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$PG_DB" ]; then psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

case "$DB_KIND" in
  sqlite) export DATABASE_URL="sqlite://$WORK/affilia.db" ;;
  postgres)
    PG_DB="affilia_st_$$_$(date +%s)"
    psql "$PG_ADMIN_URL" -qc "CREATE DATABASE \"$PG_DB\""
    export DATABASE_URL="${PG_ADMIN_URL%/*}/$PG_DB"
    ;;
  *) echo "usage: $0 sqlite|postgres [admin url]" >&2; exit 2 ;;
esac

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
export AFFILIA_BIND="127.0.0.1:$PORT" AFFILIA_BASE_URL="$BASE" AFFILIA_DATA_DIR="$WORK/data"
export AFFILIA_SECRET_KEY="schemathesis-secret-key-0123456789abcdef"
# The rate limits would turn a fuzzing run into 429s; they are tested in the cargo suite.
export AFFILIA_API_RATE_LIMIT_READ=1000000 AFFILIA_API_RATE_LIMIT_WRITE=1000000
# Portal-domain ownership checks ask this DNS server: a closed loopback port, so no lookup
# leaves the machine and every check answers "not verified" at once.
export AFFILIA_DNS_RESOLVER="127.0.0.1:9"

"$BIN" migrate >/dev/null
"$BIN" admin create-vendor --name "Schemathesis" --owner-email owner@st.example.com \
  --owner-password 'schemathesis-password' >/dev/null
KEY="$("$BIN" admin create-api-key --vendor schemathesis --name schemathesis --scope full | tail -n1)"

"$BIN" serve --no-worker >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "$BASE/healthz" >/dev/null

# A few real rows so operations taking an id can reach one (schemathesis also links
# created objects to the operations reading them).
auth=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")
SEED="$(curl -fsS "${auth[@]}" "$BASE/api/v1/affiliates" \
  -d '{"email":"seed@st.example.com","name":"Seed Affiliate","customer_id":"cus_seed"}')"
SEED_ID="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$SEED")"
# The self-service routes (`/api/v1/me...`) take an affiliate's credential, never an API key:
# schemathesis.toml sends this token (an hour long, the longest) on those operations.
AFFILIA_ST_AFFILIATE_TOKEN="$(curl -fsS "${auth[@]}" "$BASE/api/v1/affiliates/$SEED_ID/token" \
  -d '{"ttl_seconds":3600}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
export AFFILIA_ST_AFFILIATE_TOKEN
# A webhook endpoint on a public https URL with one queued test delivery, so the endpoint and
# delivery-log operations have real rows. The server runs without its worker, so nothing is
# ever sent: no request leaves the machine during the run.
WHE_ID="$(curl -fsS "${auth[@]}" "$BASE/api/v1/webhook-endpoints" \
  -d '{"url":"https://example.com/hook","description":"Seed endpoint"}' \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
curl -fsS "${auth[@]}" -X POST "$BASE/api/v1/webhook-endpoints/$WHE_ID/test" >/dev/null

# Keeps the vendor's own rate limits from throttling the rest of the run (see the file).
export SCHEMATHESIS_HOOKS="$PWD/tests/schemathesis/hooks.py"

set +e
"$ST_VENV/bin/schemathesis" --config-file tests/schemathesis/schemathesis.toml run "$BASE/api/openapi.json" \
  --url "$BASE" \
  --header "Authorization: Bearer $KEY" \
  --max-examples "$MAX_EXAMPLES" \
  --seed 17 \
  --workers 1 \
  --no-color
STATUS=$?
set -e
if [ "$STATUS" -ne 0 ]; then
  echo "schemathesis ($DB_KIND) found problems; last server log lines:" >&2
  tail -n 40 "$WORK/server.log" >&2
fi
exit "$STATUS"
