#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every test, lint and format check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --release --locked --workspace --all-targets -- -D warnings
cargo test --release --locked --workspace
