#!/usr/bin/env bash
# The crash test (issue 21): builds the server with the `crash` profile (release optimisation
# without LTO, see Cargo.toml) and runs tests/crash/crash.py on a fresh SQLite database, then on
# a fresh PostgreSQL database (created and dropped by the script; PostgreSQL itself is
# restarted once mid-run, so the server must be a local cluster `pg_ctlcluster` can restart).
#
#   bash tests/crash/run.sh                     # both databases
#   bash tests/crash/run.sh sqlite              # one of them
#   PG_ADMIN_URL=postgres://postgres@127.0.0.1:5433/postgres bash tests/crash/run.sh postgres
#   SKIP_BUILD=1 CRASH_ARGS='--kills 8 --seed 42' bash tests/crash/run.sh
#
# Exits non-zero when any check fails; each run prints one "crash test (<db>): ..." line of
# figures.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${AFFILIA_BIN:-$TARGET_DIR/crash/affilia}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
read -r -a EXTRA <<<"${CRASH_ARGS:-}"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    start=$(date +%s)
    (cd "$ROOT" && cargo build --profile crash --bin affilia)
    echo "crash test: build (profile crash) took $(($(date +%s) - start)) s"
fi
[[ -x $BIN ]] || { echo "error: missing $BIN" >&2; exit 1; }

dbs=("$@")
[[ ${#dbs[@]} -gt 0 ]] || dbs=(sqlite postgres)
status=0
for db in "${dbs[@]}"; do
    start=$(date +%s)
    python3 "$ROOT/tests/crash/crash.py" --bin "$BIN" --db "$db" --pg-admin-url "$PG_ADMIN_URL" \
        ${EXTRA[@]+"${EXTRA[@]}"} || status=1
    echo "crash test ($db): took $(($(date +%s) - start)) s"
done
exit $status
