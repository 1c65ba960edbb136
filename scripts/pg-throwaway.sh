#!/usr/bin/env bash
# Starts a throw-away PostgreSQL (Debian's `postgresql` package) on a free
# loopback port in a temporary directory, for the test suite.
#   start: prints "URL DIR" on stdout
#   start-pgvector: the same with PostgreSQL 16 + pgvector from the PyPI
#     package `pgserver` (scripts/setup.sh fetches it; Debian bookworm has no
#     pgvector package), for the gallery's pgvector backend
#   stop DIR: stops it and removes DIR
set -euo pipefail
CACHE="${VIGIL_CACHE:-$HOME/.cache/vigil}"
if [ "${1:-start}" = start-pgvector ]; then
  SRC="$CACHE/pgvector/pgserver-0.1.4"
  [ -x "$SRC/pgserver/pginstall/bin/postgres" ] || { echo "pgvector PostgreSQL not found in $SRC (run scripts/setup.sh)" >&2; exit 1; }
else
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$PGBIN" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
fi
RUN=()
if [ "$(id -u)" = 0 ]; then RUN=(runuser -u postgres --); fi
case "${1:-start}" in
  start|start-pgvector)
    DIR=$(mktemp -d /tmp/vigil-pg.XXXXXX)
    chmod 755 "$DIR"
    if [ "$1" = start-pgvector ]; then
      # A private copy the server's user can read (the cache may be in a
      # home directory it cannot enter).
      cp -a "$SRC" "$DIR/pg"
      PGBIN="$DIR/pg/pgserver/pginstall/bin"
    fi
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${RUN[@]}" "$PGBIN/initdb" -D "$DIR/data" -A trust -U postgres >"$DIR/initdb.log" 2>&1
    "${RUN[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
    echo "postgres://postgres@127.0.0.1:$PORT/postgres $DIR"
    ;;
  stop)
    DIR=$2
    if [ -x "$DIR/pg/pgserver/pginstall/bin/pg_ctl" ]; then PGBIN="$DIR/pg/pgserver/pginstall/bin"; fi
    "${RUN[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
esac
