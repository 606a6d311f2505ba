#!/usr/bin/env bash
# Every browser suite: the affiliate portal (run.mjs, which clears old screenshots first), then
# each vendor-dashboard journey file (vendor-*.mjs), one after another. Exit status: the first
# failure's, after running them all.
set -uo pipefail
cd "$(dirname "$0")/../.."
status=0
node tests/e2e/run.mjs || status=$?
for f in tests/e2e/vendor-*.mjs; do
  [ -e "$f" ] || continue
  echo "# ---- $f"
  node "$f" || { s=$?; [ "$status" -eq 0 ] && status=$s; }
done
exit "$status"
