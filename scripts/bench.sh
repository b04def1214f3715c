#!/usr/bin/env bash
# Runs every benchmark with the services it needs and prints one markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
source scripts/services.sh
services_up
trap services_down EXIT
cargo build --release -p agentd -p deployd -p funai-bench
./target/release/funai-bench "$@"
