#!/usr/bin/env bash
# A throwaway PostgreSQL server for the connector tests.
#
#   scripts/postgres.sh start   install PostgreSQL if needed (Debian, as root), create a
#                               cluster in $MESALENS_PG_DIR, start it on 127.0.0.1:$MESALENS_PG_PORT,
#                               create role and database "mesalens" (password "mesalens"),
#                               and print the SQLAlchemy URL. Does nothing if already running.
#   scripts/postgres.sh stop    stop that server (the cluster stays for the next start).
#   scripts/postgres.sh url     print the URL.
#
# PostgreSQL refuses to run as root, so as root the server runs as the "postgres" system
# user (created by Debian's package, or here if missing); as any other user it runs as
# that user. The server listens on loopback only and keeps its socket in the cluster
# folder, so it never meets a system-wide PostgreSQL.
set -euo pipefail

PGROOT=${MESALENS_PG_DIR:-/tmp/mesalens-pg}
PORT=${MESALENS_PG_PORT:-54329}
DATA="$PGROOT/data"
LOG="$PGROOT/server.log"
URL="postgresql+psycopg://mesalens:mesalens@127.0.0.1:$PORT/mesalens"

say() { echo "postgres.sh: $*" >&2; }

find_bindir() {
    # Debian keeps the server binaries out of PATH, one folder per major version:
    # take the newest; fall back to whatever PATH has (other distributions).
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    elif command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
    fi
}

ensure_installed() {
    BIN=$(find_bindir)
    if [ -z "$BIN" ]; then
        if [ "$(id -u)" -ne 0 ]; then
            say "PostgreSQL is not installed; install it (Debian: apt-get install postgresql) or run as root"
            exit 1
        fi
        say "installing PostgreSQL from Debian's packages"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # The package's post-install starts a system cluster where a service manager
        # exists; we never use it (our own cluster has its own port and socket).
        apt-get install -y -qq postgresql >/dev/null
        BIN=$(find_bindir)
        [ -n "$BIN" ] || { say "PostgreSQL installed but pg_ctl not found"; exit 1; }
    fi
}

# Run a command as the server's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

ensure_user() {
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
}

running() {
    [ -n "${BIN:-}" ] && [ -f "$DATA/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

psql_admin() {
    as_owner "$BIN/psql" -h "$PGROOT" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

launch() {
    # The server outlives this script: it must not inherit our open descriptors --
    # not the lock (it would hold it for its lifetime), nor a pipe of whatever ran
    # us (a test runner or CI waiting for end-of-file would wait forever).
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ] 2>/dev/null; then
                eval "exec $fd>&-" 2>/dev/null || true
            fi
        done
        as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
            -o "-p $PORT -k $PGROOT -c listen_addresses=127.0.0.1" start >/dev/null
    )
}

start() {
    ensure_installed
    ensure_user
    mkdir -p "$PGROOT"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$PGROOT"
    chmod 700 "$PGROOT"
    if running; then
        say "already running on port $PORT"
        echo "$URL"
        return 0
    fi
    if [ ! -f "$DATA/PG_VERSION" ]; then
        # No cluster, or one left half-made by an interrupted initdb: start afresh.
        rm -rf "$DATA"
        as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            --encoding=UTF8 --locale=C >/dev/null
    fi
    if ! launch; then
        say "the server did not start; its log says:"
        tail -n 20 "$LOG" >&2 || true
        exit 1
    fi
    if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'mesalens'")" != "1" ]; then
        psql_admin -c "CREATE ROLE mesalens LOGIN PASSWORD 'mesalens'"
    fi
    if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'mesalens'")" != "1" ]; then
        psql_admin -c "CREATE DATABASE mesalens OWNER mesalens"
    fi
    say "running on port $PORT (data in $DATA)"
    echo "$URL"
}

stop() {
    BIN=$(find_bindir)
    if running; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
        say "stopped"
    else
        say "not running"
    fi
}

case "${1:-}" in
    start)
        # One start at a time: parallel make jobs or test runs must not race initdb.
        mkdir -p "$(dirname "$PGROOT")"
        exec 9>"$PGROOT.lock"
        flock 9
        start
        ;;
    stop) stop ;;
    url) echo "$URL" ;;
    *)
        echo "usage: $0 start|stop|url" >&2
        exit 2
        ;;
esac
