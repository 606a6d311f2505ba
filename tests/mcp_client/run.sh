#!/usr/bin/env bash
# Connects the official MCP Python SDK to a real Affilia over streamable HTTP: a debug
# binary on a fresh SQLite database in a temporary directory, a vendor and two API keys
# made with the CLI, then tests/mcp_client/client.py. Needs `cargo build` done and
# python3; installs the pinned SDK into a venv (MCP_VENV, default target/mcp-venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${AFFILIA_BIN:-target/debug/affilia}"
VENV="${MCP_VENV:-target/mcp-venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" || {
    # Debian's python3 keeps venv in a package of its own.
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$VENV"
  }
fi
"$VENV/bin/pip" install -q -r tests/mcp_client/requirements.txt

WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
export DATABASE_URL="sqlite://$WORK/affilia.db"
export AFFILIA_DATA_DIR="$WORK/data"
export AFFILIA_BIND="127.0.0.1:$PORT"
export AFFILIA_SECRET_KEY="mcp-client-test-secret-key-0123456789abcdef"
export AFFILIA_LOG_FORMAT=json RUST_LOG=warn

"$BIN" migrate >/dev/null
AFFILIA_OWNER_PASSWORD='correct horse battery staple' \
  "$BIN" admin create-vendor --name "Acme" --owner-email owner@acme.test >/dev/null
FULL_KEY="$("$BIN" admin create-api-key --vendor acme --name agent --scope full | tail -n1)"
READ_KEY="$("$BIN" admin create-api-key --vendor acme --name reader --scope read | tail -n1)"

"$BIN" serve --no-worker >"$WORK/server.log" 2>&1 &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

# An affiliate and its access token, through the REST API.
API="http://127.0.0.1:$PORT/api/v1"
AFFILIATE_ID="$(curl -fsS -H "Authorization: Bearer $FULL_KEY" -H 'Content-Type: application/json' \
  -d '{"email":"jane@partners.test","name":"Jane","code":"jane","send_invite":false}' \
  "$API/affiliates" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
curl -fsS -X PATCH -H "Authorization: Bearer $FULL_KEY" -H 'Content-Type: application/json' \
  -d '{"status":"active"}' "$API/affiliates/$AFFILIATE_ID" >/dev/null
AFFILIATE_TOKEN="$(curl -fsS -X POST -H "Authorization: Bearer $FULL_KEY" "$API/affiliates/$AFFILIATE_ID/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"

AFFILIA_MCP_URL="http://127.0.0.1:$PORT/mcp" AFFILIA_FULL_KEY="$FULL_KEY" AFFILIA_READ_KEY="$READ_KEY" \
  AFFILIA_AFFILIATE_TOKEN="$AFFILIATE_TOKEN" \
  timeout 120 "$VENV/bin/python" tests/mcp_client/client.py || { cat "$WORK/server.log" >&2; exit 1; }
