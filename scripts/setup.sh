#!/usr/bin/env bash
# Installs what the tests need, idempotently: Mosquitto (broker + clients), qemu-system-arm,
# arm-none-eabi binutils, sqlite3, openssl, graphviz, promtool (Debian's `prometheus` package,
# its server kept from starting), headless Chromium and chromedriver, and the
# thumbv7em-none-eabihf Rust target.
# Safe to run again: it only installs what is missing.
set -euo pipefail

need_apt=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need_apt+=(mosquitto-clients)
command -v qemu-system-arm >/dev/null 2>&1 || need_apt+=(qemu-system-arm)
command -v arm-none-eabi-size >/dev/null 2>&1 || need_apt+=(binutils-arm-none-eabi)
command -v sqlite3 >/dev/null 2>&1 || need_apt+=(sqlite3)
# The MQTT TLS tests generate their CA and certificates with the openssl CLI.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# `aimdbd graph --format dot` is rendered with Graphviz in tests/cli_pipes.rs.
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)
# tests/package.rs builds the .deb with cargo-deb (below) and checks it with lintian.
command -v lintian >/dev/null 2>&1 || need_apt+=(lintian)
# tests/sparkplug.rs runs a Sparkplug B host on pysparkplug, in a venv (below).
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-venv)
# tests/alert_metrics.rs checks /metrics with `promtool check metrics` and the example alert
# rules (deploy/prometheus/) with `promtool check rules` / `promtool test rules`. Only promtool is
# wanted from the package: its server must not start (see below).
need_promtool=0
command -v promtool >/dev/null 2>&1 || { need_apt+=(prometheus); need_promtool=1; }
# tests/dashboard.rs drives headless Chromium through chromedriver (WebDriver).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "setup: need root to install ${need_apt[*]} (apt-get); run as root or install them" >&2
      exit 1
    fi
  fi
  # A policy-rc.d that answers 101 ("action forbidden") keeps invoke-rc.d and deb-systemd-invoke
  # from starting services the packages ship (the Prometheus server); ours only while we
  # install, an existing one is left alone.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    own_policy=1
    # Removed however the install ends (set -e exits on a failed apt-get).
    trap '$sudo rm -f "$policy"' EXIT
    $sudo chmod 755 "$policy"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  if [ "$own_policy" -eq 1 ]; then $sudo rm -f "$policy"; trap - EXIT; fi
  # On a host booted with systemd the unit was still enabled for the next boot: undo that.
  if [ "$need_promtool" -eq 1 ] && [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
fi

if ! rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf; then
  echo "setup: adding Rust target thumbv7em-none-eabihf"
  rustup target add thumbv7em-none-eabihf
fi
# tests/package.rs: cargo-deb, pinned (the `--no-build --profile` and asset behaviour it relies on).
cargo_deb_version=3.8.0
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $cargo_deb_version" ]; then
  echo "setup: installing cargo-deb $cargo_deb_version"
  # Its own temporary target dir, not the project's (CARGO_TARGET_DIR would be honoured).
  env -u CARGO_TARGET_DIR cargo install cargo-deb --version "$cargo_deb_version" --locked --quiet
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    rustup component add "$component"
  fi
done
# The Sparkplug B test host (tests/sparkplug/host.py): pysparkplug, an independent
# implementation, in its own venv outside the repo ($AIMDBD_SPARKPLUG_PYTHON overrides it).
spb_venv="${HOME}/.cache/aimdbd/venv-sparkplug"
if ! "$spb_venv/bin/python" -c 'import pysparkplug' >/dev/null 2>&1; then
  echo "setup: installing pysparkplug into $spb_venv"
  mkdir -p "$(dirname "$spb_venv")"
  python3 -m venv "$spb_venv"
  "$spb_venv/bin/pip" install -q 'pysparkplug==0.6.1'
fi
echo "setup: ok (mosquitto, qemu-system-arm, arm-none-eabi binutils, sqlite3, openssl, graphviz, promtool, chromium, chromedriver, thumbv7em-none-eabihf, pysparkplug venv)"
