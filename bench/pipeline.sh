#!/usr/bin/env bash
# Pipeline figure: wall time of `functl deploy --repo ... --wait` for the example app (claim,
# clone over SSH, build, push, runtime deploy, first 200 through the gateway) beside the same
# steps by hand in the same run: git clone, docker build, docker push, docker pull + run and
# an HTTP loop until 200. Prints one markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
source scripts/services.sh
services_up >/dev/null
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    docker ps -aq --filter label=funai.node=bench-node | xargs -r docker rm -f >/dev/null 2>&1 || true
    services_down
    rm -rf "$work"
}
trap cleanup EXIT
cargo build --release -q -p functl -p deployd -p agentd
BIN=$PWD/target/release
ROUNDS=${ROUNDS:-3}
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
DP=$(port); AP=$(port); GP=$(port)

# The example app as a bare repository on the test sshd.
repo=bench-hello-$RANDOM
git init -q --bare -b main "$FUNAI_TEST_GIT_REPOS/$repo.git"
src=$work/src
mkdir -p "$src/www"
cp examples/hello-app/Dockerfile examples/hello-app/.dockerignore "$src/"
cp examples/hello-app/www/index.html "$src/www/"
cp "$FUNAI_TEST_BUSYBOX" "$src/busybox"
git -C "$src" init -q -b main
git -C "$src" -c user.name=bench -c user.email=b@funai.invalid add -A
git -C "$src" -c user.name=bench -c user.email=b@funai.invalid commit -q -m hello
git -C "$src" push -q "$FUNAI_TEST_GIT_REPOS/$repo.git" main
url="$FUNAI_TEST_GIT_URL/$repo.git"

cat >"$work/deployd.toml" <<TOML
listen = "127.0.0.1:$DP"
database_url = "sqlite://$work/d.db"
[auth]
deploy_secret = "bench-deploy"
runner_token = "bench-runner"
node_token = "bench-node"
admin_token = "bench-admin"
runtime_token = "bench-runtime"
[nodes]
disk_free_min_pct = 0.0
TOML
cat >"$work/agentd.toml" <<TOML
deploy_url = "http://127.0.0.1:$DP"
[runner]
runner_id = "bench-runner"
runner_token = "bench-runner"
runtime_token = "bench-runtime"
workdir = "$work/runner"
git_ssh_key = "$FUNAI_TEST_GIT_KEY"
git_known_hosts = "$FUNAI_TEST_GIT_KNOWN_HOSTS"
registry = "$FUNAI_TEST_REGISTRY"
registry_username = "$FUNAI_TEST_REGISTRY_USER"
registry_password = "$FUNAI_TEST_REGISTRY_PASSWORD"
claim_wait_seconds = 20
[runtime]
listen = "127.0.0.1:$AP"
node_name = "bench-node"
node_token = "bench-node"
runtime_token = "bench-runtime"
agent_base_url = "http://127.0.0.1:$AP"
gateway_base_url = "http://127.0.0.1:$GP"
data_dir = "$work/runtime"
stop_grace_seconds = 2
registry = "$FUNAI_TEST_REGISTRY"
registry_username = "$FUNAI_TEST_REGISTRY_USER"
registry_password = "$FUNAI_TEST_REGISTRY_PASSWORD"
[runtime.gateway]
listen = "127.0.0.1:$GP"
TOML
"$BIN/deployd" --config "$work/deployd.toml" serve >"$work/deployd.log" 2>&1 & pids+=($!)
svc_wait_http "http://127.0.0.1:$DP/internal/health" '^200$' 20
"$BIN/agentd" --config "$work/agentd.toml" run >"$work/agentd.log" 2>&1 & pids+=($!)
svc_wait_http "http://127.0.0.1:$AP/internal/health" '^200$' 30
export FUNCTL_DEPLOY_URL=http://127.0.0.1:$DP FUNCTL_DEPLOY_SECRET=bench-deploy FUNCTL_ADMIN_TOKEN=bench-admin
for _ in $(seq 100); do "$BIN/functl" nodes list -o json | grep -q bench-node && break; sleep 0.1; done

now() { date +%s.%N; }
ours=(); base=()
export DOCKER_CONFIG=$work/docker
echo "$FUNAI_TEST_REGISTRY_PASSWORD" | docker login -u "$FUNAI_TEST_REGISTRY_USER" --password-stdin "$FUNAI_TEST_REGISTRY" >/dev/null 2>&1
for r in $(seq 1 "$ROUNDS"); do
    # A new commit each round, so that nothing is cached by tag on either side.
    echo "<p>round $r</p>" >>"$src/www/index.html"
    git -C "$src" -c user.name=bench -c user.email=b@funai.invalid commit -qam "round $r"
    git -C "$src" push -q "$FUNAI_TEST_GIT_REPOS/$repo.git" main
    t0=$(now)
    "$BIN/functl" deploy --app bench1 --user 1 --repo "$url" --wait >"$work/deploy-$r.log" 2>&1
    dep=$(grep '^deployed: ' "$work/deploy-$r.log" | cut -d' ' -f2)
    until curl -sf -o /dev/null "$dep"; do :; done
    ours+=("$(echo "$(now) - $t0" | bc)")

    t0=$(now)
    rm -rf "$work/clone"
    GIT_SSH_COMMAND="ssh -i $FUNAI_TEST_GIT_KEY -o UserKnownHostsFile=$FUNAI_TEST_GIT_KNOWN_HOSTS -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes" \
        git clone -q -b main "$url" "$work/clone"
    img="$FUNAI_TEST_REGISTRY/funaistudio/bench-by-hand:r$r"
    docker build -q -t "$img" "$work/clone" >/dev/null
    docker push -q "$img" >/dev/null
    docker rmi -f "$img" >/dev/null
    docker pull -q "$img" >/dev/null
    cid=$(docker run -d --label funai.node=bench-node --network funai-runtime-net "$img")
    ip=$(docker inspect -f '{{(index .NetworkSettings.Networks "funai-runtime-net").IPAddress}}' "$cid")
    until curl -sf -o /dev/null "http://$ip:3000/"; do :; done
    base+=("$(echo "$(now) - $t0" | bc)")
    docker rm -f "$cid" >/dev/null
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo=$(median "${ours[@]}"); mb=$(median "${base[@]}")
echo
echo "| measure | figure | baseline | baseline figure | figure/baseline |"
echo "|---|---|---|---|---|"
printf '| example app: functl deploy --repo --wait to first 200 (clone, build, push, deploy), median of %s | %.2f s | git clone + docker build + docker push + docker pull/run + HTTP loop until 200 | %.2f s | %.2fx |\n' \
    "$ROUNDS" "$mo" "$mb" "$(echo "$mo / $mb" | bc -l)"
