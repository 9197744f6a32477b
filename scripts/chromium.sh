#!/usr/bin/env bash
# Prints the path of a usable Chromium (Debian's `chromium` package), installing it with
# apt-get when running as root and it is missing. The browser test drives it through
# Playwright with `executable_path`, so no browser is ever downloaded by Playwright.
# Exits non-zero with one line on stderr when no Chromium can be had.
set -uo pipefail

find_chromium() {
    local candidate
    for candidate in "${CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" --version >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

find_chromium && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "chromium: not installed and not root (install it with 'apt-get install chromium')" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium: not installed and apt-get is not available on this system" >&2
    exit 1
fi
log=$(mktemp)
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
    echo "chromium: apt-get install chromium failed: $(tail -n 1 "$log")" >&2
    rm -f "$log"
    exit 1
fi
rm -f "$log"
find_chromium || { echo "chromium: installed but does not start" >&2; exit 1; }
