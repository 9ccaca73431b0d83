#!/usr/bin/env bash
# Installs what the tests need, idempotently: Mosquitto (broker + clients), qemu-system-arm,
# arm-none-eabi binutils, sqlite3, openssl, graphviz, and the thumbv7em-none-eabihf Rust target.
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

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "setup: need root to install ${need_apt[*]} (apt-get); run as root or install them" >&2
      exit 1
    fi
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf; then
  echo "setup: adding Rust target thumbv7em-none-eabihf"
  rustup target add thumbv7em-none-eabihf
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    rustup component add "$component"
  fi
done
echo "setup: ok (mosquitto, qemu-system-arm, arm-none-eabi binutils, sqlite3, openssl, graphviz, thumbv7em-none-eabihf)"
