#!/usr/bin/env bash
# Refreshes the vendored HTMX from its npm package: scripts/vendor-htmx.sh [version]
# Update assets::HTMX and the templates' references if the version changes.
set -euo pipefail
version="${1:-2.0.11}"
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "htmx.org@${version}" >/dev/null && tar xzf htmx.org-*.tgz)
cp "$tmp/package/dist/htmx.min.js" "$root/static/vendor/htmx-${version}.min.js"
echo "static/vendor/htmx-${version}.min.js"
