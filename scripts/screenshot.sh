#!/usr/bin/env bash
# Regenerates docs/dashboard.png: runs the browser test of the dashboard (tests/dashboard.rs:
# the real aimdbd, Mosquitto and headless Chromium), which writes a screenshot of the page once
# it shows the graph, live values and a chart. Needs what scripts/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/dashboard.png}
AIMDB_SCREENSHOT="$out" cargo test --locked --test dashboard \
  the_dashboard_shows_the_graph_and_live_values_in_a_browser -- --exact --nocapture
echo "screenshot: $out ($(stat -c %s "$out") bytes)"
