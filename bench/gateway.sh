#!/usr/bin/env bash
# Gateway figure: the embedded gateway beside nginx (Debian's nginx-light as a reverse proxy,
# upstream keepalive, worker_processes auto) and the upstream direct, in one run, with one
# client (wrk, keep-alive). The upstream is a static C server in a FROM scratch container on
# funai-runtime-net, so the proxy is measured, not the app. Prints one markdown table.
# Knobs: SECONDS_EACH (5), ROUNDS (3: each side measured that often, taking turns, the
# median kept), CONNECTIONS (64), THREADS (2); KEEP_SERVICES=1 leaves the suite's
# services running at the end (another run uses them).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
source scripts/services.sh
services_up >/dev/null
svc_apt gcc libc6-dev nginx-light wrk
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    docker ps -aq --filter label=funai.node=bench-gw | xargs -r docker rm -f >/dev/null 2>&1 || true
    [[ ${KEEP_SERVICES:-} == 1 ]] || services_down
    rm -rf "$work"
}
trap cleanup EXIT
SECS=${SECONDS_EACH:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
cargo build --release -q -p agentd
BIN=$PWD/target/release
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
AP=$(port); GP=$(port); NP=$(port)

# The upstream: one thread per connection, keep-alive, a fixed 13-byte body.
mkdir -p "$work/up"
cat >"$work/up/up.c" <<'C'
#define _GNU_SOURCE
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static const char R[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nhello, bench\n";
static void *serve(void *arg) {
    int fd = (int)(long)arg; char buf[8192]; size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0) break;
        have += (size_t)n;
        char *end;
        while ((end = memmem(buf, have, "\r\n\r\n", 4)) != NULL) {
            size_t used = (size_t)(end - buf) + 4;
            if (write(fd, R, sizeof R - 1) < 0) goto out;
            memmove(buf, buf + used, have - used); have -= used;
        }
        if (have == sizeof buf) break;
    }
out:
    close(fd); return NULL;
}
int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8080)};
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1024)) return 1;
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        pthread_t t; pthread_create(&t, NULL, serve, (void *)(long)c); pthread_detach(t);
    }
}
C
gcc -O2 -static -pthread -o "$work/up/up" "$work/up/up.c"
printf 'FROM scratch\nCOPY up /up\nEXPOSE 8080\nENTRYPOINT ["/up"]\n' >"$work/up/Dockerfile"
img="$FUNAI_TEST_REGISTRY/funaistudio/bench-upstream:1"
export DOCKER_CONFIG=$work/docker
echo "$FUNAI_TEST_REGISTRY_PASSWORD" | docker login -u "$FUNAI_TEST_REGISTRY_USER" --password-stdin "$FUNAI_TEST_REGISTRY" >/dev/null 2>&1
docker build -q -t "$img" "$work/up" >/dev/null
docker push -q "$img" >/dev/null

# agentd's runtime with its embedded gateway, the upstream deployed as app "gw".
cat >"$work/agentd.toml" <<TOML
deploy_url = "http://127.0.0.1:9"
[runtime]
listen = "127.0.0.1:$AP"
node_name = "bench-gw"
node_token = "bench-node"
runtime_token = "bench-runtime"
agent_base_url = "http://127.0.0.1:$AP"
gateway_base_url = "http://127.0.0.1:$GP"
data_dir = "$work/runtime"
cpus = 0.0
memory_mb = 0
pids_limit = 0
registry = "$FUNAI_TEST_REGISTRY"
registry_username = "$FUNAI_TEST_REGISTRY_USER"
registry_password = "$FUNAI_TEST_REGISTRY_PASSWORD"
[runtime.gateway]
listen = "127.0.0.1:$GP"
TOML
"$BIN/agentd" --config "$work/agentd.toml" run >"$work/agentd.log" 2>&1 & pids+=($!)
svc_wait_http "http://127.0.0.1:$AP/internal/health" '^200$' 30
curl -sf -o /dev/null -X POST "http://127.0.0.1:$AP/agent/apps/deploy" \
    -H 'X-Runtime-Token: bench-runtime' -H 'Content-Type: application/json' \
    -d "{\"userId\":\"1\",\"appId\":\"gw\",\"image\":\"$img\",\"containerPort\":8080}" ||
    { cat "$work/agentd.log"; exit 1; }
cid=$(docker ps -q --filter label=funai.node=bench-gw --filter label=funai.app-id=gw | head -1)
ip=$(docker inspect -f '{{(index .NetworkSettings.Networks "funai-runtime-net").IPAddress}}' "$cid")

# nginx: the same route, prefix stripped, keep-alive to the upstream.
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx/pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    upstream app { server $ip:8080; keepalive 128; }
    server {
        listen 127.0.0.1:$NP;
        location /runtime/gw/ {
            proxy_pass http://app/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        }
    }
}
NGINX
nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' & pids+=($!)
svc_wait_http "http://127.0.0.1:$NP/runtime/gw/" '^200$' 20
svc_wait_http "http://127.0.0.1:$GP/runtime/gw/" '^200$' 20

# req/s, p50 and p99 (ms) of one wrk run; with a second argument, of one connection.
measure() {
    local out
    if [[ -n ${2:-} ]]; then
        out=$(wrk -t1 -c1 -d"${SECS}s" --latency "$1")
    else
        out=$(wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency "$1")
    fi
    local rps p50 p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}
to_ms() { # wrk prints 812.00us, 1.61ms or 1.02s
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /s$/ && v !~ /ms$/) n *= 1000; printf "%.2f", n }'
}
# Each side is measured ROUNDS times, the three taking turns, and the median run of each is
# kept (by req/s): what else this machine does at one moment falls on all three alike.
median() { # lines "rps p50 p99": the one of median rps
    sort -g | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}
rounds() { # SIDE: its median run
    median <"$work/$1.runs"
}
for ((r = 0; r < ROUNDS; r++)); do
    for side in direct nginx gateway; do
        case $side in
        direct) url="http://$ip:8080/" ;;
        nginx) url="http://127.0.0.1:$NP/runtime/gw/" ;;
        gateway) url="http://127.0.0.1:$GP/runtime/gw/" ;;
        esac
        measure "$url" >>"$work/$side.runs"
        # The latency each adds to a request when nothing queues: one connection.
        measure "$url" one >>"$work/$side-one.runs"
    done
done
read -r d_rps d_p50 d_p99 < <(rounds direct)
read -r n_rps n_p50 n_p99 < <(rounds nginx)
read -r g_rps g_p50 g_p99 < <(rounds gateway)
read -r _ d1_p50 d1_p99 < <(rounds direct-one)
read -r _ n1_p50 n1_p99 < <(rounds nginx-one)
read -r _ g1_p50 g1_p99 < <(rounds gateway-one)
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
echo
echo "| measure | figure | baseline | baseline figure | figure/baseline |"
echo "|---|---|---|---|---|"
printf '| embedded gateway, wrk %s connections, median of %s runs of %s s taking turns, req/s | %.0f | nginx (proxy_pass, upstream keepalive, workers auto) | %.0f | %s× |\n' \
    "$CONNS" "$ROUNDS" "$SECS" "$g_rps" "$n_rps" "$(ratio "$g_rps" "$n_rps")"
printf '| embedded gateway p50 / p99 | %s / %s ms | nginx p50 / p99 | %s / %s ms | %s× p99 |\n' \
    "$g_p50" "$g_p99" "$n_p50" "$n_p99" "$(ratio "$g_p99" "$n_p99")"
printf '| embedded gateway p99 added over the upstream direct | %.2f ms | upstream direct p50 / p99, req/s | %s / %s ms, %.0f | |\n' \
    "$(echo "$g_p99 - $d_p99" | bc -l)" "$d_p50" "$d_p99" "$d_rps"
printf '| nginx p99 added over the upstream direct | %.2f ms | the same | | |\n' \
    "$(echo "$n_p99 - $d_p99" | bc -l)"
printf '| embedded gateway p50 / p99 added over the upstream direct, one connection (nothing queues) | %.2f / %.2f ms | nginx, the same | %.2f / %.2f ms | direct: %s / %s ms |\n' \
    "$(echo "$g1_p50 - $d1_p50" | bc -l)" "$(echo "$g1_p99 - $d1_p99" | bc -l)" \
    "$(echo "$n1_p50 - $d1_p50" | bc -l)" "$(echo "$n1_p99 - $d1_p99" | bc -l)" "$d1_p50" "$d1_p99"
