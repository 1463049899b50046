#!/usr/bin/env bash
# A headless browser for the test that opens `make plots`' page and counts the drawn marks (tests/test_plots.py).
#   scripts/setup_browser.sh
# Installs Debian's chromium when no chromium or chrome is on PATH. A failed install (no Debian mirror, not
# root, not Debian) is not fatal here: the warning says what is missing, and the browser test then fails with
# the same advice (set CHROMIUM=/path/to/chrome to use another build).
set -euo pipefail

found() { command -v "${CHROMIUM:-chromium}" >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
  command -v google-chrome >/dev/null 2>&1; }

if ! found && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
  if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    { $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends chromium; } ||
      echo "warning: could not install chromium with apt-get" >&2
  fi
fi
if ! found; then
  echo "warning: no chromium; the plots' browser test (tests/test_plots.py) will fail." >&2
  echo "  Debian/Ubuntu: sudo apt-get install chromium; elsewhere set CHROMIUM=/path/to/chrome" >&2
fi
