#!/usr/bin/env bash
# Headless Chromium + chromedriver from Debian, for the eval report browser test
# (tests/evals/test_report_browser.py). Idempotent: does nothing when both are present.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# another apt process (e.g. a parallel job) may hold the lock for a while; wait for it
for _ in $(seq 1 60); do
  if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver; then
    exit 0
  fi
  echo "install-browser: apt busy or failed, retrying in 10 s" >&2
  sleep 10
done
echo "install-browser: could not install chromium and chromium-driver" >&2
exit 1
