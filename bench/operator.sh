#!/usr/bin/env bash
# Operator figures: `functl registry prune` over 20 apps x 20 tags beside a skopeo
# list-tags/inspect/delete loop over the same registry in the same run, and `functl --help`
# start-up beside `docker --help`. Prints one markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
source scripts/services.sh
services_up >/dev/null
trap services_down EXIT
svc_apt skopeo
cargo build --release -q -p functl -p deployd
BIN=$PWD/target/release
APPS=${APPS:-20}
TAGS=${TAGS:-20}
NS=bench$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
CREDS="$FUNAI_TEST_REGISTRY_USER:$FUNAI_TEST_REGISTRY_PASSWORD"
work=$(mktemp -d)

# One tiny image per tag (distinct `created`), tagged into every app repository.
mkdir -p "$work/ctx"
cp "$FUNAI_TEST_BUSYBOX" "$work/ctx/busybox"
export DOCKER_CONFIG=$work/docker
echo "$FUNAI_TEST_REGISTRY_PASSWORD" | docker login -u "$FUNAI_TEST_REGISTRY_USER" --password-stdin "$FUNAI_TEST_REGISTRY" >/dev/null 2>&1
fill() {
    for t in $(seq 1 "$TAGS"); do
        printf 'FROM scratch\nCOPY busybox /bin/busybox\nLABEL tag=%s\n' "$t" >"$work/ctx/Dockerfile"
        docker build -q -t "bench-src:$t" "$work/ctx" >/dev/null
        for a in $(seq 1 "$APPS"); do
            docker tag "bench-src:$t" "$FUNAI_TEST_REGISTRY/$NS/u1-app$a:t$t"
            docker push -q "$FUNAI_TEST_REGISTRY/$NS/u1-app$a:t$t" >/dev/null
        done
    done
}
now() { date +%s.%N; }

# deployd, for what runs (nothing here: every tag may go but the newest 3).
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
DEPLOYD_LISTEN=127.0.0.1:$port DEPLOYD_DATABASE_URL=sqlite://$work/d.db \
DEPLOYD_AUTH__DEPLOY_SECRET=bench-d DEPLOYD_AUTH__RUNNER_TOKEN=bench-r DEPLOYD_AUTH__NODE_TOKEN=bench-n \
DEPLOYD_AUTH__ADMIN_TOKEN=bench-a "$BIN/deployd" serve >"$work/deployd.log" 2>&1 &
dpid=$!
trap 'kill $dpid 2>/dev/null; services_down' EXIT
svc_wait_http "http://127.0.0.1:$port/internal/health" '^200$' 20

fill
t0=$(now)
FUNCTL_DEPLOY_URL=http://127.0.0.1:$port FUNCTL_DEPLOY_SECRET=bench-d FUNCTL_ADMIN_TOKEN=bench-a \
FUNCTL_REGISTRY=$FUNAI_TEST_REGISTRY FUNCTL_REGISTRY_USERNAME=$FUNAI_TEST_REGISTRY_USER \
FUNCTL_REGISTRY_PASSWORD=$FUNAI_TEST_REGISTRY_PASSWORD FUNCTL_REGISTRY_NAMESPACE=$NS \
    "$BIN/functl" registry prune --all --keep 3 --yes >"$work/prune.out" 2>&1
t1=$(now)
ours=$(echo "$t1 - $t0" | bc)
left=$(skopeo list-tags --tls-verify=false --creds "$CREDS" "docker://$FUNAI_TEST_REGISTRY/$NS/u1-app1" | grep -c '"t')

fill
t0=$(now)
for a in $(seq 1 "$APPS"); do
    repo="docker://$FUNAI_TEST_REGISTRY/$NS/u1-app$a"
    tags=$(skopeo list-tags --tls-verify=false --creds "$CREDS" "$repo" | python3 -c 'import json,sys;print("\n".join(json.load(sys.stdin)["Tags"]))')
    for t in $tags; do
        echo "$(skopeo inspect --tls-verify=false --creds "$CREDS" --format '{{.Created}}' "$repo:$t") $t"
    done | sort -r | tail -n +4 | while read -r _ _ _ _ t; do
        skopeo delete --tls-verify=false --creds "$CREDS" "$repo:$t"
    done
done
t1=$(now)
base=$(echo "$t1 - $t0" | bc)

fb=$(farm-bench -n 20 --vs 'docker --help' -- "$BIN/functl" --help 2>&1)
a_wall=$(echo "$fb" | awk '/^A wall s/ {print $5}')
b_wall=$(echo "$fb" | awk '/^B wall s/ {print $5}')
ratio=$(echo "$fb" | awk '/^A\/B wall/ {print $4}')
echo
echo "| measure | figure | baseline | baseline figure | figure/baseline |"
echo "|---|---|---|---|---|"
printf '| functl registry prune --all --keep 3, %s apps x %s tags (%s tags left per app) | %.2f s | skopeo list-tags + inspect + delete loop, same registry | %.2f s | %.2fx |\n' \
    "$APPS" "$TAGS" "$left" "$ours" "$base" "$(echo "$ours / $base" | bc -l)"
echo "| functl --help start-up (farm-bench, 20 runs, median wall) | ${a_wall} s | docker --help | ${b_wall} s | ${ratio}x |"
rm -rf "$work"
