#!/usr/bin/env bash
# MariaDB and PostgreSQL for deployd's replica tests and benchmarks: Debian's packages,
# each on loopback with a data directory of its own under $FUNAI_SVC_DIR, started fresh by
# db_up (whatever an earlier run left is stopped and removed first) and stopped by db_down.
# Sourced by scripts/services.sh (or by hand: `source scripts/services-db.sh; db_up`).
# Exports the admin URLs the tests use to create one database per test:
#   FUNAI_TEST_MYSQL_URL     mysql://funai:<pw>@127.0.0.1:3306/
#   FUNAI_TEST_POSTGRES_URL  postgres://funai:<pw>@127.0.0.1:5432/postgres
# and appends them to $FUNAI_SVC_DIR/env (and to $FUNAI_SVC_DIR/db.env, which no other
# service rewrites). Runs as root (CI does).

FUNAI_SVC_DIR="${FUNAI_SVC_DIR:-/tmp/funai-test-services}"
FUNAI_DB_MYSQL_PORT="${FUNAI_DB_MYSQL_PORT:-3306}"
FUNAI_DB_POSTGRES_PORT="${FUNAI_DB_POSTGRES_PORT:-5432}"

db_log() { printf '== databases: %s\n' "$*" >&2; }
db_die() { printf '== databases: FAILED: %s\n' "$*" >&2; exit 1; }

db_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        db_log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null || db_die "apt-get update"
        apt-get install -y -qq "${missing[@]}" >/dev/null || db_die "apt-get install ${missing[*]}"
    fi
}

db_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Records an exported variable in $FUNAI_SVC_DIR/env and db.env, replacing what an earlier
# db_up wrote.
db_env() {
    local f
    for f in "$FUNAI_SVC_DIR/env" "$FUNAI_SVC_DIR/db.env"; do
        touch "$f"
        sed -i "/^export $1=/d" "$f"
        printf 'export %s=%q\n' "$1" "${!1}" >>"$f"
    done
}

db_password() { head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# Stops the process of a pid file (TERM, then KILL after 10 s) and removes the file.
db_stop_pidfile() {
    local f=$1 pid
    [[ -f $f ]] || return 0
    pid=$(head -1 "$f")
    if [[ $pid =~ ^[0-9]+$ ]] && kill "$pid" 2>/dev/null; then
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
}

# A port held by the distribution's own service (a package install may start it) is freed;
# anything else on it is an error, never silently shared.
db_free_port() { # port service-name...
    local port=$1
    shift
    db_port_open "$port" || return 0
    for svc in "$@"; do
        service "$svc" stop >/dev/null 2>&1 || systemctl stop "$svc" >/dev/null 2>&1 || true
    done
    for _ in $(seq 50); do db_port_open "$port" || return 0; sleep 0.1; done
    db_die "port $port on 127.0.0.1 is held by another program; stop it first"
}

mysql_down() {
    db_stop_pidfile "$FUNAI_SVC_DIR/mariadb/mariadbd.pid"
}

mysql_up() {
    local d="$FUNAI_SVC_DIR/mariadb" pw i
    mysql_down
    db_free_port "$FUNAI_DB_MYSQL_PORT" mariadb mysql
    rm -rf "$d"
    mkdir -p "$d/data" "$d/tmp"
    chown -R mysql:mysql "$d"
    chmod 755 "$FUNAI_SVC_DIR"
    mariadb-install-db --no-defaults --user=mysql --datadir="$d/data" \
        --auth-root-authentication-method=socket --skip-test-db >"$d/install.log" 2>&1 ||
        db_die "mariadb-install-db: $(tail -5 "$d/install.log")"
    # Durability as SQLite's WAL with synchronous=NORMAL: the log is written at each
    # commit and flushed once a second. Loopback only, no name lookups.
    # Also on the host side of the plain registry's namespace (scripts/services.sh), when it
    # is there: a client in that namespace is a host the test user is not granted from.
    local bind=127.0.0.1
    if ip -4 addr show dev funai-pr-h 2>/dev/null | grep -q 10.251.0.1; then bind+=",10.251.0.1"; fi
    nohup mariadbd --no-defaults --user=mysql --datadir="$d/data" --tmpdir="$d/tmp" \
        --socket="$d/mysqld.sock" --pid-file="$d/mariadbd.pid" \
        --bind-address="$bind" --port="$FUNAI_DB_MYSQL_PORT" --skip-name-resolve \
        --max-connections=600 --innodb-buffer-pool-size=256M \
        --innodb-flush-log-at-trx-commit=2 --innodb-lock-wait-timeout=20 \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_bin \
        --log-error="$d/error.log" >"$d/stdout.log" 2>&1 &
    for i in $(seq 300); do
        [[ -S $d/mysqld.sock ]] && db_port_open "$FUNAI_DB_MYSQL_PORT" && break
        sleep 0.1
    done
    db_port_open "$FUNAI_DB_MYSQL_PORT" || db_die "mariadbd did not start: $(tail -5 "$d/error.log")"
    pw=$(db_password)
    mariadb --no-defaults --socket="$d/mysqld.sock" -uroot <<SQL || db_die "cannot create the test user in MariaDB"
CREATE USER 'funai'@'127.0.0.1' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON *.* TO 'funai'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
    export FUNAI_TEST_MYSQL_URL="mysql://funai:$pw@127.0.0.1:$FUNAI_DB_MYSQL_PORT/"
    db_env FUNAI_TEST_MYSQL_URL
    db_log "MariaDB $(mariadbd --version | awk '{print $3}') on 127.0.0.1:$FUNAI_DB_MYSQL_PORT (datadir $d/data)"
}

db_pg_bin() {
    local b
    b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    [[ -n $b && -x $b/postgres ]] || db_die "PostgreSQL binaries not found under /usr/lib/postgresql"
    echo "$b"
}

postgres_down() {
    local d="$FUNAI_SVC_DIR/postgres" bin
    if [[ -f $d/data/postmaster.pid ]]; then
        bin=$(db_pg_bin)
        runuser -u postgres -- "$bin/pg_ctl" -D "$d/data" -m fast -w -t 20 stop >/dev/null 2>&1 || true
        # Still there (a crashed cluster, a stale pid): the pid file's first line is the postmaster.
        db_stop_pidfile "$d/data/postmaster.pid"
    fi
}

postgres_up() {
    local d="$FUNAI_SVC_DIR/postgres" bin pw
    bin=$(db_pg_bin)
    postgres_down
    db_free_port "$FUNAI_DB_POSTGRES_PORT" postgresql
    rm -rf "$d"
    mkdir -p "$d"
    chmod 755 "$FUNAI_SVC_DIR"
    pw=$(db_password)
    printf '%s\n' "$pw" >"$d/pwfile"
    chown -R postgres:postgres "$d"
    chmod 700 "$d"
    runuser -u postgres -- "$bin/initdb" -D "$d/data" -U funai --pwfile="$d/pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$d/initdb.log" 2>&1 ||
        db_die "initdb: $(tail -5 "$d/initdb.log")"
    rm -f "$d/pwfile"
    # Durability as SQLite's WAL with synchronous=NORMAL: commits do not wait for the flush.
    runuser -u postgres -- "$bin/pg_ctl" -D "$d/data" -l "$d/log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$FUNAI_DB_POSTGRES_PORT -c unix_socket_directories=$d -c max_connections=400 -c shared_buffers=128MB -c synchronous_commit=off" \
        start >/dev/null 2>&1 || db_die "postgres did not start: $(tail -5 "$d/log")"
    export FUNAI_TEST_POSTGRES_URL="postgres://funai:$pw@127.0.0.1:$FUNAI_DB_POSTGRES_PORT/postgres"
    db_env FUNAI_TEST_POSTGRES_URL
    db_log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$FUNAI_DB_POSTGRES_PORT (cluster $d/data)"
}

db_up() {
    mkdir -p "$FUNAI_SVC_DIR"
    touch "$FUNAI_SVC_DIR/env"
    db_apt mariadb-server mariadb-client postgresql
    mysql_up
    postgres_up
}

db_down() {
    mysql_down
    postgres_down
}
