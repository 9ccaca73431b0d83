#!/usr/bin/env bash
# Runs every check CI runs, installing what is missing first:
# format, clippy (-D warnings), all tests, and the no_std cross-build for the MCU target.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "setup"
scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (workspace, all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "no_std crates build for thumbv7em-none-eabihf"
cargo build --locked -p aimdb-core -p aimdb-records --no-default-features --target thumbv7em-none-eabihf

step "tests (workspace)"
cargo test --workspace --locked

step "benchmarks compile and run in quick mode (no timing is asserted)"
cargo test --locked -p aimdb-bench --benches
