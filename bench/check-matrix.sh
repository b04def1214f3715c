#!/usr/bin/env bash
# `functl check --expect-closed` across the seven-role matrix: an estate of network
# namespaces (cli/tests/lab), the security groups as iptables rules, every probe of a host in
# parallel with a per-probe timeout of 1000 ms, beside the same probes one at a time from
# the runner host (the baseline, same run). Prints a markdown table. Needs root.
#   FUNAI_BENCH_ROUNDS=N   runs per host, the median is shown (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
source scripts/services.sh
services_up # the git user, sshd, the registry and the tools the lab uses
trap services_down EXIT
cargo build --release -p deployd -p agentd -p functl --bins
cargo test --release -p functl --test check_matrix -- --ignored --nocapture \
    --exact bench_check_expect_closed_across_the_matrix 2>&1 |
    grep -E '^(\||`)' || { echo "the benchmark failed" >&2; exit 1; }
