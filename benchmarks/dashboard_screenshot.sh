#!/usr/bin/env bash
# Screenshot a study's dashboard with headless Chromium, to check by eye that it shows the trials.
#
#   benchmarks/dashboard_screenshot.sh STUDY_FILE [OUT.png] [PAGE]
#
# Starts `hpo dashboard STUDY_FILE --port 0` (read-only, loopback), opens PAGE of the study
# (default /trials: the trial list with the first trial's details, user attributes and
# artifacts; "" for the overview plots, /trialTable for the table) and writes OUT.png
# (default dashboard.png). Needs /usr/bin/chromium (Debian: apt-get install -y chromium).
set -euo pipefail

study_file=${1:?usage: $0 STUDY_FILE [OUT.png] [PAGE]}
out=${2:-dashboard.png}
page=${3-/trials}
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$here/.venv/bin/python}
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "no Chromium at $chromium (apt-get install -y chromium)" >&2; exit 2; }

work=$(mktemp -d)
"$python" -m hpo dashboard "$study_file" --port 0 >"$work/stdout" 2>"$work/stderr" &
dashboard=$!
cleanup() { kill -TERM "$dashboard" 2>/dev/null || true; wait "$dashboard" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

for _ in $(seq 100); do  # the URL is printed once the server listens (bounded wait: 20 s)
  grep -q '^dashboard: ' "$work/stdout" && break
  kill -0 "$dashboard" 2>/dev/null || { cat "$work/stderr" >&2; exit 1; }
  sleep 0.2
done
url=$(sed -n 's/^dashboard: //p' "$work/stdout")
[ -n "$url" ] || { echo "the dashboard did not start" >&2; cat "$work/stderr" >&2; exit 1; }

"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --screenshot="$out" --window-size=1400,1000 \
  --virtual-time-budget=8000 "$url$page" 2>"$work/chromium.log" || { tail "$work/chromium.log" >&2; exit 1; }
echo "$url$page -> $out ($(stat -c %s "$out") bytes)"
