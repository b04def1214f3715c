#!/usr/bin/env bash
# Real components for the tests, on loopback, in a throw-away directory: sourced by
# scripts/test.sh (services_up / services_down). Idempotent; nothing depends on what a
# previous run left behind. Exports the addresses the tests read.

FUNAI_SVC_DIR="${FUNAI_SVC_DIR:-/tmp/funai-test-services}"
FUNAI_TEST_REGISTRY="127.0.0.1:5000"

svc_log() { printf '== services: %s\n' "$*" >&2; }
svc_die() { printf '== services: FAILED: %s\n' "$*" >&2; exit 1; }

svc_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        svc_log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null || svc_die "apt-get update"
        apt-get install -y -qq "${missing[@]}" >/dev/null || svc_die "apt-get install ${missing[*]}"
    fi
}

svc_wait_http() { # url expected-status-regex seconds
    local url=$1 want=$2 secs=$3 code
    for ((i = 0; i < secs * 10; i++)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
        [[ $code =~ $want ]] && return 0
        sleep 0.1
    done
    return 1
}

svc_kill_pidfile() {
    local f=$1
    if [[ -f $f ]]; then
        local pid
        pid=$(cat "$f")
        kill "$pid" 2>/dev/null && { for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; }
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$f"
    fi
}

registry_up() {
    svc_kill_pidfile "$FUNAI_SVC_DIR/registry.pid"
    # A registry some earlier run left on the port would hold stale tags: refuse to share it.
    if curl -s -o /dev/null "http://$FUNAI_TEST_REGISTRY/v2/"; then
        pkill -f 'docker-registry serve' || true
        svc_wait_http "http://$FUNAI_TEST_REGISTRY/v2/" '^000$' 5 || svc_die "port 5000 is held by something else"
    fi
    rm -rf "$FUNAI_SVC_DIR/registry"
    mkdir -p "$FUNAI_SVC_DIR/registry/data"
    FUNAI_TEST_REGISTRY_USER=funai
    FUNAI_TEST_REGISTRY_PASSWORD="reg-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    htpasswd -Bbn "$FUNAI_TEST_REGISTRY_USER" "$FUNAI_TEST_REGISTRY_PASSWORD" >"$FUNAI_SVC_DIR/registry/htpasswd"
    cat >"$FUNAI_SVC_DIR/registry/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $FUNAI_SVC_DIR/registry/data
  delete:
    enabled: true
http:
  addr: $FUNAI_TEST_REGISTRY
auth:
  htpasswd:
    realm: funai-test
    path: $FUNAI_SVC_DIR/registry/htpasswd
YAML
    nohup docker-registry serve "$FUNAI_SVC_DIR/registry/config.yml" >"$FUNAI_SVC_DIR/registry/log" 2>&1 &
    echo $! >"$FUNAI_SVC_DIR/registry.pid"
    svc_wait_http "http://$FUNAI_TEST_REGISTRY/v2/" '^401$' 20 || svc_die "registry did not start: $(tail -5 "$FUNAI_SVC_DIR/registry/log")"
    export FUNAI_TEST_REGISTRY FUNAI_TEST_REGISTRY_USER FUNAI_TEST_REGISTRY_PASSWORD
    # For a person running single tests by hand: `source /tmp/funai-test-services/env`.
    printf 'export FUNAI_TEST_REGISTRY=%q FUNAI_TEST_REGISTRY_USER=%q FUNAI_TEST_REGISTRY_PASSWORD=%q FUNAI_TEST_DOCKER=1 FUNAI_TEST_BUSYBOX=/bin/busybox\n' \
        "$FUNAI_TEST_REGISTRY" "$FUNAI_TEST_REGISTRY_USER" "$FUNAI_TEST_REGISTRY_PASSWORD" >"$FUNAI_SVC_DIR/env"
    svc_log "registry on $FUNAI_TEST_REGISTRY (htpasswd user $FUNAI_TEST_REGISTRY_USER)"
}

# sshd on 127.0.0.1:2222 with its own host key; user `git` (git-shell) serves bare
# repositories under $FUNAI_SVC_DIR/git/repos to the runner's deploy key.
sshd_up() {
    local d="$FUNAI_SVC_DIR/sshd" shell
    svc_kill_pidfile "$d/sshd.pid"
    rm -rf "$d" "$FUNAI_SVC_DIR/git"
    mkdir -p "$d" "$FUNAI_SVC_DIR/git/repos" /run/sshd
    chmod 755 "$FUNAI_SVC_DIR" "$FUNAI_SVC_DIR/git" "$FUNAI_SVC_DIR/git/repos"
    shell=/usr/bin/git-shell
    [[ -x $shell ]] || svc_die "git-shell missing (apt install git)"
    if ! id git >/dev/null 2>&1; then
        useradd --system --create-home --home-dir /srv/funai-git --shell "$shell" git || svc_die "useradd git"
    fi
    # Not locked ("!"): with UsePAM no, sshd refuses locked accounts even for keys.
    usermod --shell "$shell" -p "*" git >/dev/null 2>&1 || true
    # Test repositories are written by root; the git user only reads them.
    printf '[safe]\n\tdirectory = *\n' >"$(getent passwd git | cut -d: -f6)/.gitconfig"
    ssh-keygen -q -t ed25519 -N '' -C funai-test-host -f "$d/host_key"
    ssh-keygen -q -t ed25519 -N '' -C funai-test-other-host -f "$d/other_host_key"
    ssh-keygen -q -t ed25519 -N '' -C funai-deploy -f "$d/deploy_key"
    ssh-keygen -q -t ed25519 -N '' -C funai-not-authorized -f "$d/stranger_key"
    echo "no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty $(cat "$d/deploy_key.pub")" >"$d/authorized_keys"
    echo "[127.0.0.1]:2222 $(cut -d' ' -f1,2 "$d/host_key.pub")" >"$d/known_hosts"
    echo "[127.0.0.1]:2222 $(cut -d' ' -f1,2 "$d/other_host_key.pub")" >"$d/wrong_known_hosts"
    chmod 644 "$d/authorized_keys"
    cat >"$d/sshd_config" <<CONF
Port 2222
ListenAddress 127.0.0.1
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
AllowUsers git
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
StrictModes no
LogLevel ERROR
CONF
    /usr/sbin/sshd -f "$d/sshd_config" -E "$d/log" || svc_die "sshd did not start: $(tail -5 "$d/log")"
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/2222) 2>/dev/null && break; sleep 0.1; done
    (exec 3<>/dev/tcp/127.0.0.1/2222) 2>/dev/null || svc_die "sshd is not listening on 127.0.0.1:2222"
    export FUNAI_TEST_GIT_URL="ssh://git@127.0.0.1:2222$FUNAI_SVC_DIR/git/repos"
    export FUNAI_TEST_GIT_REPOS="$FUNAI_SVC_DIR/git/repos"
    export FUNAI_TEST_GIT_KEY="$d/deploy_key" FUNAI_TEST_GIT_STRANGER_KEY="$d/stranger_key"
    export FUNAI_TEST_GIT_KNOWN_HOSTS="$d/known_hosts" FUNAI_TEST_GIT_WRONG_KNOWN_HOSTS="$d/wrong_known_hosts"
    printf 'export FUNAI_TEST_GIT_URL=%q FUNAI_TEST_GIT_REPOS=%q FUNAI_TEST_GIT_KEY=%q FUNAI_TEST_GIT_STRANGER_KEY=%q FUNAI_TEST_GIT_KNOWN_HOSTS=%q FUNAI_TEST_GIT_WRONG_KNOWN_HOSTS=%q\n' \
        "$FUNAI_TEST_GIT_URL" "$FUNAI_TEST_GIT_REPOS" "$FUNAI_TEST_GIT_KEY" "$FUNAI_TEST_GIT_STRANGER_KEY" \
        "$FUNAI_TEST_GIT_KNOWN_HOSTS" "$FUNAI_TEST_GIT_WRONG_KNOWN_HOSTS" >>"$FUNAI_SVC_DIR/env"
    svc_log "sshd on 127.0.0.1:2222 (git-shell, deploy key, known_hosts)"
}

# A registry that speaks plain HTTP on an address that is not loopback (a network namespace
# of our own, 10.251.0.2), so the engine refuses it unless it is in insecure-registries.
plainreg_up() {
    local d="$FUNAI_SVC_DIR/plainreg"
    plainreg_down
    mkdir -p "$d/data"
    ip netns add funai-plainreg || svc_die "ip netns add"
    # The kernel removes a deleted namespace's links after `ip netns del` returns: after a
    # run that was killed, the old pair may still be going away. Wait for it (10 s at most).
    local tries=0
    until ip link add funai-pr-h type veth peer name funai-pr-n 2>/dev/null; do
        tries=$((tries + 1))
        ((tries < 100)) || svc_die "veth funai-pr-h/funai-pr-n: $(ip link add funai-pr-h type veth peer name funai-pr-n 2>&1)"
        ip link del funai-pr-h 2>/dev/null || true
        sleep 0.1
    done
    ip link set funai-pr-n netns funai-plainreg
    ip addr add 10.251.0.1/30 dev funai-pr-h
    ip link set funai-pr-h up
    ip netns exec funai-plainreg ip addr add 10.251.0.2/30 dev funai-pr-n
    ip netns exec funai-plainreg ip link set funai-pr-n up
    ip netns exec funai-plainreg ip link set lo up
    cat >"$d/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $d/data
http:
  addr: 10.251.0.2:5000
YAML
    nohup ip netns exec funai-plainreg docker-registry serve "$d/config.yml" >"$d/log" 2>&1 &
    echo $! >"$d/pid"
    svc_wait_http "http://10.251.0.2:5000/v2/" '^200$' 20 || svc_die "plain registry did not start: $(tail -5 "$d/log")"
    # The same registry on port 80 as well, as the estate's Harbor serves plain HTTP: an
    # engine not told it is insecure tries HTTPS on 443, where nothing answers.
    ip netns exec funai-plainreg iptables -t nat -A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 5000 ||
        svc_die "iptables redirect 80 -> 5000 in netns funai-plainreg"
    svc_wait_http "http://10.251.0.2/v2/" '^200$' 5 || svc_die "plain registry does not answer on port 80"
    export FUNAI_TEST_PLAIN_REGISTRY=10.251.0.2:5000 FUNAI_TEST_PLAIN_REGISTRY_80=10.251.0.2
    echo "export FUNAI_TEST_PLAIN_REGISTRY=10.251.0.2:5000 FUNAI_TEST_PLAIN_REGISTRY_80=10.251.0.2" >>"$FUNAI_SVC_DIR/env"
    svc_log "plain-HTTP registry on 10.251.0.2:5000 and :80 (netns funai-plainreg)"
}

plainreg_down() {
    svc_kill_pidfile "$FUNAI_SVC_DIR/plainreg/pid"
    ip netns pids funai-plainreg 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip link del funai-pr-h 2>/dev/null || true
    ip netns del funai-plainreg 2>/dev/null || true
}

docker_check() {
    if ! docker info >/dev/null 2>&1; then
        # The engine starts with the machine; try once to start it before giving up.
        (systemctl start docker || service docker start) >/dev/null 2>&1 || true
        for _ in $(seq 50); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
        docker info >/dev/null 2>&1 || svc_die "no Docker engine answers on this machine"
    fi
    export FUNAI_TEST_DOCKER=1
    svc_log "docker engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
}

# podman's Docker-compatible API on unix:///run/podman/podman.sock, for agentd's second pass
# (TESTING.md, Podman): catatonit for containers with init, rlimits this machine allows, the
# test registry as plain HTTP. Idempotent; the service's pid in $FUNAI_SVC_DIR/podman.pid.
FUNAI_TEST_PODMAN_SOCK=/run/podman/podman.sock
podman_up() {
    svc_apt podman catatonit
    mkdir -p /etc/containers/registries.conf.d /run/podman "$FUNAI_SVC_DIR"
    # The machine's hard limits are below podman's default rlimits (error setting rlimit).
    local limits='default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]'
    if ! grep -qs '^default_ulimits' /etc/containers/containers.conf; then
        if grep -qs '^\[containers\]' /etc/containers/containers.conf; then
            sed -i "/^\[containers\]/a $limits" /etc/containers/containers.conf
        else
            printf '[containers]\n%s\n' "$limits" >>/etc/containers/containers.conf
        fi
    fi
    printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$FUNAI_TEST_REGISTRY" \
        >/etc/containers/registries.conf.d/50-funai-test.conf
    if [[ -f $FUNAI_SVC_DIR/podman.pid ]] && kill -0 "$(cat "$FUNAI_SVC_DIR/podman.pid")" 2>/dev/null &&
        curl -s --unix-socket "$FUNAI_TEST_PODMAN_SOCK" http://d/_ping | grep -q OK; then
        svc_log "podman already answers on $FUNAI_TEST_PODMAN_SOCK"
        return 0
    fi
    svc_kill_pidfile "$FUNAI_SVC_DIR/podman.pid"
    rm -f "$FUNAI_TEST_PODMAN_SOCK"
    nohup podman system service --time=0 "unix://$FUNAI_TEST_PODMAN_SOCK" >"$FUNAI_SVC_DIR/podman.log" 2>&1 &
    echo $! >"$FUNAI_SVC_DIR/podman.pid"
    for _ in $(seq 100); do
        curl -s --unix-socket "$FUNAI_TEST_PODMAN_SOCK" http://d/_ping 2>/dev/null | grep -q OK && break
        sleep 0.1
    done
    curl -s --unix-socket "$FUNAI_TEST_PODMAN_SOCK" http://d/_ping 2>/dev/null | grep -q OK ||
        svc_die "podman did not answer on $FUNAI_TEST_PODMAN_SOCK: $(tail -5 "$FUNAI_SVC_DIR/podman.log")"
    svc_log "podman $(podman version --format '{{.Server.Version}}' 2>/dev/null) on unix://$FUNAI_TEST_PODMAN_SOCK"
}

podman_down() {
    [[ -f $FUNAI_SVC_DIR/podman.pid ]] || return 0
    # App containers the tests started on podman (test node label), then the service.
    local left
    left=$(podman ps -a --filter label=funai.app-id --format '{{.ID}} {{index .Labels "funai.node"}}' 2>/dev/null |
        awk '$2 ~ /^t-/ {print $1}' || true)
    if [[ -n $left ]]; then podman rm -f $left >/dev/null 2>&1 || true; fi
    svc_kill_pidfile "$FUNAI_SVC_DIR/podman.pid"
}

services_up() {
    mkdir -p "$FUNAI_SVC_DIR"
    svc_apt curl busybox-static docker-registry apache2-utils openssh-server git iproute2 iptables openssl tmux man-db chromium
    export FUNAI_TEST_BUSYBOX=/bin/busybox
    docker_check
    registry_up
    sshd_up
    plainreg_up
    # MariaDB and PostgreSQL on loopback, for deployd's suite on each engine.
    # shellcheck source=/dev/null
    source "$(dirname "${BASH_SOURCE[0]}")/services-db.sh"
    db_up
}

services_down() {
    svc_kill_pidfile "$FUNAI_SVC_DIR/registry.pid"
    svc_kill_pidfile "$FUNAI_SVC_DIR/sshd/sshd.pid"
    plainreg_down
    podman_down
    if declare -F db_down >/dev/null; then db_down; fi
    # App containers the tests started carry a test node label; none may outlive the run.
    local left
    left=$(docker ps -a --filter label=funai.app-id --format '{{.ID}} {{.Label "funai.node"}}' 2>/dev/null |
        awk '$2 ~ /^t-/ {print $1}' || true)
    if [[ -n $left ]]; then docker rm -f $left >/dev/null 2>&1 || true; fi
}
