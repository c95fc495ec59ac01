#!/usr/bin/env bash
# Debian packages the browser tests need: Chromium (driven by Playwright) and a font for screenshots.
# Installs them when missing and allowed (root, or passwordless sudo); otherwise says what is missing and the
# browser tests are skipped.
set -u
packages=(chromium fonts-dejavu-core)
if [ -x /usr/bin/chromium ] && [ -d /usr/share/fonts/truetype/dejavu ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "MISSING: ${packages[*]} (Debian packages). Browser tests will be SKIPPED." >&2
    echo "Install them with: sudo apt-get install ${packages[*]}" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "MISSING: ${packages[*]}, and this machine has no apt-get. Browser tests will be SKIPPED." >&2
    exit 0
fi
echo "installing ${packages[*]} with apt-get"
"${sudo[@]}" apt-get update -q >/dev/null && \
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null \
    || { echo "apt-get could not install ${packages[*]}; browser tests will be SKIPPED." >&2; exit 0; }
