#!/usr/bin/env bash
# Starts a throw-away PostgreSQL (Debian's `postgresql` package) on a free
# loopback port in a temporary directory, for the test suite.
#   start: prints "URL DIR" on stdout
#   stop DIR: stops it and removes DIR
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
RUN=()
if [ "$(id -u)" = 0 ]; then RUN=(runuser -u postgres --); fi
case "${1:-start}" in
  start)
    DIR=$(mktemp -d /tmp/vigil-pg.XXXXXX)
    chmod 755 "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${RUN[@]}" "$PGBIN/initdb" -D "$DIR/data" -A trust -U postgres >"$DIR/initdb.log" 2>&1
    "${RUN[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
    echo "postgres://postgres@127.0.0.1:$PORT/postgres $DIR"
    ;;
  stop)
    DIR=$2
    "${RUN[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
esac
