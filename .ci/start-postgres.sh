#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the store tests and print its URL (and nothing else) on stdout:
#
#     FRONTLINE_TEST_PG_URL="$(.ci/start-postgres.sh)"
#     export FRONTLINE_TEST_PG_URL
#
# Works on a fresh Debian machine as root without a terminal: installs Debian's `postgresql` package when no
# server binaries are found, then runs the server as an unprivileged user (`postgres`, or `frontline-pg`,
# created if need be). As a normal user it needs the binaries already installed.
#
# The cluster lives in a new temporary folder, listens on 127.0.0.1 only, on a free port, with trust
# authentication (nothing but this machine can reach it). Progress and the stop command go to stderr; the
# folder also holds `url`, `server.log` and `stop.sh`.
#
# Optional environment: PG_DB (database name, default frontline_test), PG_PORT (default: a free port),
# PG_BASE (folder to use, default: mktemp -d), PG_RUN_AS (user to run the server as, when root).
set -euo pipefail

DB_NAME="${PG_DB:-frontline_test}"
DB_USER="frontline"

log() { echo "start-postgres: $*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

find_bin_dir() {
    local initdb
    if initdb="$(command -v initdb 2>/dev/null)" && [ -n "$initdb" ]; then
        # Resolve symlinks: initdb looks for `postgres` beside itself.
        dirname "$(readlink -f "$initdb")"
        return 0
    fi
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
        return 0
    fi
    return 1
}

BIN_DIR="$(find_bin_dir || true)"
if [ -z "$BIN_DIR" ]; then
    is_root || die "no PostgreSQL server binaries found (initdb); install the 'postgresql' package or run as root"
    log "installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2 </dev/null
    BIN_DIR="$(find_bin_dir || true)"
    [ -n "$BIN_DIR" ] || die "installed postgresql but found no initdb under /usr/lib/postgresql/*/bin"
fi
log "using $("$BIN_DIR/postgres" --version) from $BIN_DIR"

# The server refuses to run as root: pick (or make) an unprivileged user.
RUN_AS=""
if is_root; then
    if [ -n "${PG_RUN_AS:-}" ]; then
        RUN_AS="$PG_RUN_AS"
        if ! id -u "$RUN_AS" >/dev/null 2>&1; then
            log "creating system user $RUN_AS"
            useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$RUN_AS" >&2
        fi
    elif id -u postgres >/dev/null 2>&1; then
        RUN_AS=postgres
    else
        RUN_AS=frontline-pg
        if ! id -u "$RUN_AS" >/dev/null 2>&1; then
            log "creating system user $RUN_AS"
            useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$RUN_AS" >&2
        fi
    fi
fi

as_server_user() {
    if [ -z "$RUN_AS" ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$RUN_AS" -- "$@"
    else
        su -s /bin/sh "$RUN_AS" -c "$(printf '%q ' "$@")"
    fi
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    else
        echo $((20000 + RANDOM % 40000))
    fi
}

BASE="${PG_BASE:-$(mktemp -d "${TMPDIR:-/tmp}/frontline-pg.XXXXXX")}"
mkdir -p "$BASE"
DATA="$BASE/data"
LOG="$BASE/server.log"
chmod 700 "$BASE"
[ -z "$RUN_AS" ] || chown "$RUN_AS" "$BASE"
cd "$BASE"  # the server user may not be allowed into the caller's folder

log "initialising a cluster in $DATA"
as_server_user "$BIN_DIR/initdb" -D "$DATA" -U "$DB_USER" --auth=trust --encoding=UTF8 --no-locale --no-sync \
    >"$BASE/initdb.log" 2>&1 || { cat "$BASE/initdb.log" >&2; die "initdb failed"; }

# Create the database in single-user mode, before the server starts: needs no client programs.
echo "CREATE DATABASE \"$DB_NAME\";" | as_server_user "$BIN_DIR/postgres" --single -D "$DATA" -j \
    -c exit_on_error=true postgres >"$BASE/createdb.log" 2>&1 \
    || { cat "$BASE/createdb.log" >&2; die "could not create database $DB_NAME"; }

started=""
for attempt in 1 2 3; do
    PORT="${PG_PORT:-$(free_port)}"
    if as_server_user "$BIN_DIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $BASE" start >&2 </dev/null; then
        started=yes
        break
    fi
    log "start on port $PORT failed (attempt $attempt); server log:"
    tail -n 20 "$LOG" >&2 || true
    [ -z "${PG_PORT:-}" ] || break
done
[ -n "$started" ] || die "the server did not start"

URL="postgresql+psycopg://$DB_USER@127.0.0.1:$PORT/$DB_NAME"
echo "$URL" >"$BASE/url"
STOP="$BIN_DIR/pg_ctl -D $DATA -m fast stop"
if [ -n "$RUN_AS" ]; then
    STOP="runuser -u $RUN_AS -- $STOP"
fi
printf '#!/bin/sh\n%s\n' "$STOP" >"$BASE/stop.sh"
chmod +x "$BASE/stop.sh"
log "PostgreSQL is up on 127.0.0.1:$PORT, database $DB_NAME; stop it with: $BASE/stop.sh"
echo "$URL"
