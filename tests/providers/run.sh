#!/usr/bin/env bash
# Billing-provider signatures against the providers' official libraries (issue 22):
# our verifiers accept the captured signed fixtures (the lib tests of the provider doors),
# and the official Paddle SDK and Standard Webhooks library (as Polar's SDKs use it) accept
# what our signers produce. Needs node >= 20 and cargo; installs the pinned packages.
set -euo pipefail
cd "$(dirname "$0")/../.."
npm ci --prefix tests/providers --no-audit --no-fund >/dev/null
cargo test --quiet --lib -- billing::paddle billing::lemonsqueezy billing::polar billing::chargebee billing::provider
VECTORS="$(mktemp)"
trap 'rm -f "$VECTORS"' EXIT
AFFILIA_PROVIDER_VECTORS="$VECTORS" cargo test --quiet --lib write_provider_sdk_vectors -- --ignored
AFFILIA_PROVIDER_VECTORS="$VECTORS" timeout 60 node tests/providers/check.mjs
