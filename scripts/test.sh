#!/usr/bin/env bash
# The whole test suite: formatting, lints, then every test of the workspace against real
# components. CI runs exactly this (see .ci/run). Installs and starts what the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*" >&2; }

# Services the tests need are started by scripts/services.sh (idempotent); it exports
# their addresses into the environment of the tests.
if [[ -f scripts/services.sh ]]; then
    # shellcheck source=/dev/null
    source scripts/services.sh
    services_up
    trap services_down EXIT
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
# The suite's web app, put in a container by the gateway tests (testkit::agentd::testapp_image).
cargo build -p functl-testkit --bin funai-testapp --locked
# Two test threads per binary: the machine has two cores and the tests start real servers.
out=$(mktemp)
set +e
cargo test --workspace --all-targets --locked --no-fail-fast -- --test-threads=2 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
# deployd's store conformance again on each database server (scripts/services-db.sh), a
# fresh database per test: the modules whose tests go through the store. The rest (auth,
# the binary, metrics, packaging, the admin page) do not depend on the engine and ran once
# above. Under CI a missing server fails the run; elsewhere it is skipped, and said so.
STORE_MODULES=(runner_protocol:: versions::a_ route_table:: jobs_and_placement:: estate_apps:: legacy_runner:: replicas:: checks:: faults:: bad_input:: hostile::)
for db in mysql postgres; do
    url_var="FUNAI_TEST_${db^^}_URL"
    if [[ -z ${!url_var:-} && ${CI:-} != true ]]; then
        log "SKIPPED: deployd tests on $db ($url_var is not set; source scripts/services-db.sh; db_up)"
        continue
    fi
    log "cargo test -p deployd (store conformance) on $db"
    # The estate's old deploy tables live on its MySQL/MariaDB: estate_tables runs there only.
    modules=("${STORE_MODULES[@]}")
    [[ $db == mysql ]] && modules+=(estate_tables::)
    FUNAI_TEST_DB=$db cargo test -p deployd --test it --locked --no-fail-fast -- --test-threads=2 "${modules[@]}" 2>&1 | tee -a "$out"
    db_status=${PIPESTATUS[0]}
    ((db_status == 0)) || status=$db_status
done
# agentd's runtime and runner tests again on podman's Docker-compatible API (TESTING.md,
# Podman): deploys, adoption, engine events, builds FROM scratch, pushes and pulls, and the
# start-up refusal of a podman without its init binary. Left to
# the Docker pass: plain_http_registry (a throw-away dockerd of its own), gateway_headers,
# gateway_tls and gateway_entry (the gateway's own behaviour, whatever the engine).
# Under CI a podman that cannot start fails the run; elsewhere it is skipped, and said so.
PODMAN_MODULES=(runtime_ runner_ gateway_streams:: engine_podman::)
podman_unstarted=0
if (podman_up); then
    log "cargo test -p agentd (runtime and runner) on podman"
    DOCKER_HOST="unix://$FUNAI_TEST_PODMAN_SOCK" cargo test -p agentd --test it --locked --no-fail-fast -- --test-threads=2 "${PODMAN_MODULES[@]}" 2>&1 | tee -a "$out"
    podman_status=${PIPESTATUS[0]}
    ((podman_status == 0)) || status=$podman_status
elif [[ ${CI:-} == true ]]; then
    log "FAILED: podman did not start (scripts/services.sh podman_up)"
    status=1
    podman_unstarted=1
else
    log "SKIPPED: agentd tests on podman (podman did not start; scripts/services.sh podman_up)"
fi
# The .deb packages from the debug binaries built above: lintian, dpkg -i, use, purge.
log "scripts/test-packages.sh"
scripts/test-packages.sh
pkg_status=$? # 77: skipped (not root, outside CI), and said so
((pkg_status == 0 || pkg_status == 77)) || status=$pkg_status
set -e
read -r passed failed < <(awk '/^test result:/ {
    for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }
} END { print p + 0, f + 0 }' "$out")
rm -f "$out"
if ((pkg_status == 0)); then passed=$((passed + 1)); elif ((pkg_status != 77)); then failed=$((failed + 1)); fi
failed=$((failed + podman_unstarted))
echo
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
