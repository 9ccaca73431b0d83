#!/usr/bin/env bash
# Runs every check CI runs, installing what is missing first:
# format, clippy (-D warnings), API docs (-D warnings), all tests, the loom models, the no_std cross-build for the MCU target, and the
# firmware: clippy + release build for thumbv7em-none-eabihf, its flash/RAM budget, and the
# on-target test under QEMU (mps2-an386). The firmware workspace builds into
# $FIRMWARE_TARGET_DIR (default firmware/target).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "setup"
scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (workspace, all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The API docs are for the people who work on this code, so private items are documented (and a
# link to one resolves); a broken or ambiguous link fails the build.
step "cargo doc (workspace, private items, -D warnings)"
RUSTDOCFLAGS="-D warnings -A rustdoc::private_intra_doc_links" cargo doc --workspace --no-deps --document-private-items --locked

step "no_std crates build for thumbv7em-none-eabihf"
cargo build --locked -p aimdb-core -p aimdb-records -p aimdb-embassy --no-default-features --target thumbv7em-none-eabihf

fw_target=${FIRMWARE_TARGET_DIR:-$PWD/firmware/target}
fw() { (cd firmware && CARGO_TARGET_DIR="$fw_target" "$@"); }

step "firmware: cargo fmt --check, clippy (-D warnings), release build for thumbv7em-none-eabihf"
fw cargo fmt --all -- --check
fw cargo test --locked -p aimdb-node --target "$(rustc -vV | sed -n 's/^host: //p')"
fw cargo clippy --workspace --release --locked -- -D warnings
fw cargo build --release --locked -p aimdb-firmware

step "firmware: flash and static RAM against the budget (192 KiB / 64 KiB)"
scripts/firmware-size.sh "$fw_target/thumbv7em-none-eabihf/release/aimdb-firmware" 192 64

step "firmware: on-target test on QEMU mps2-an386 (exit code is the verdict)"
fw timeout 120 cargo run --release --locked -p aimdb-qemu-test

step "tests (workspace)"
# --no-fail-fast: a red run shows every failing test binary, not only the first.
cargo test --workspace --locked --no-fail-fast

# loom explores every interleaving of the models in crates/core/src/loom_tests.rs,
# crates/tokio/src/concurrency/background_sink/loom_tests.rs and the sync API's thread hand-off
# (crates/tokio/src/sync_api/wait.rs) up to the preemption bound, in its
# own target dir so that the `--cfg loom` build leaves the main one alone. A few seconds once
# built (a cold build of target/loom: about a minute).
loom_env=(env RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}")
step "loom: wakers, buffers, shutdown, progress, BackgroundSink, sync API hand-off (LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-3})"
"${loom_env[@]}" cargo test --locked --release -p aimdb-core -p aimdb-tokio --lib --target-dir target/loom loom_

step "benchmarks compile and run in quick mode (no timing is asserted)"
cargo test --locked -p aimdb-bench --benches
