#!/bin/sh
# Installs Debian's chromium and its driver for the dashboard browser test.
# Exit 0 when /usr/bin/chromium is there afterwards, non-zero otherwise.
set -u
if [ -x /usr/bin/chromium ] && { [ -x /usr/bin/chromedriver ] || [ -x /usr/lib/chromium/chromedriver ]; }; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
        echo "install_browser: not root and no password-less sudo; cannot install chromium" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || { echo "install_browser: apt-get update failed" >&2; exit 1; }
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null \
    || { echo "install_browser: apt-get install chromium chromium-driver failed" >&2; exit 1; }
[ -x /usr/bin/chromium ]
