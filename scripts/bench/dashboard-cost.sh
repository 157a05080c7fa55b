#!/usr/bin/env bash
# What one open dashboard costs the server (issue 12's goal: at most 1 % of its throughput): recommendation
# requests/s measured with wrk (8 connections, live lists: --cache-ttl-seconds 0) without a dashboard, with
# /dashboard open in headless Chromium, and with only the dashboard's requests replayed without a browser, the
# three alternating in one run against one release server (scripts/dashboard.d/dashboard.py cost).
# Usage: scripts/bench/dashboard-cost.sh [seconds-per-run] [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "missing wrk: apt-get install wrk" >&2; exit 1; }
source scripts/browser.d/setup.sh
swift build -c release --product starling >/dev/null
"$python" scripts/dashboard.d/dashboard.py cost .build/release/starling --seconds "${1:-10}" --rounds "${2:-3}"
