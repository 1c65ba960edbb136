#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every test, lint and format check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --release --locked --workspace --all-targets -- -D warnings
log=$(mktemp)
pg_dir=""
pgv_dir=""
cleanup() {
  rm -f "$log"
  [ -z "$pg_dir" ] || bash scripts/pg-throwaway.sh stop "$pg_dir"
  [ -z "$pgv_dir" ] || bash scripts/pg-throwaway.sh stop "$pgv_dir"
}
trap cleanup EXIT
# The store's tests run on SQLite and on PostgreSQL. Use VIGIL_TEST_PG_URL
# if given (a role that may CREATE DATABASE), else a throw-away server.
if [ -z "${VIGIL_TEST_PG_URL:-}" ]; then
  read -r VIGIL_TEST_PG_URL pg_dir < <(bash scripts/pg-throwaway.sh start)
  [ -n "${VIGIL_TEST_PG_URL:-}" ] || { echo "test: could not start PostgreSQL" >&2; exit 1; }
  export VIGIL_TEST_PG_URL
  echo "test: throw-away PostgreSQL at $VIGIL_TEST_PG_URL"
fi
# The gallery's pgvector backend: PostgreSQL 16 + pgvector from the PyPI
# package setup fetched, unless VIGIL_TEST_PGVECTOR_URL is given.
if [ -z "${VIGIL_TEST_PGVECTOR_URL:-}" ]; then
  read -r VIGIL_TEST_PGVECTOR_URL pgv_dir < <(bash scripts/pg-throwaway.sh start-pgvector)
  [ -n "${VIGIL_TEST_PGVECTOR_URL:-}" ] || { echo "test: could not start PostgreSQL with pgvector" >&2; exit 1; }
  export VIGIL_TEST_PGVECTOR_URL
  echo "test: throw-away PostgreSQL + pgvector at $VIGIL_TEST_PGVECTOR_URL"
fi
cargo test --release --locked --workspace --no-fail-fast 2>&1 | tee "$log"
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "vigil tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
