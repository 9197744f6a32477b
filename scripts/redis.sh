#!/usr/bin/env bash
# Prints the path of a usable redis-server (Debian's `redis-server` package), installing it
# with apt-get when running as root and it is missing. The Celery executor test starts its
# own server on loopback with it, so `make setup` need not install Redis for everyone.
# Exits non-zero with one line on stderr when no redis-server can be had.
set -uo pipefail

find_redis() {
    local candidate
    for candidate in "${REDIS_SERVER:-}" "$(command -v redis-server 2>/dev/null)" /usr/bin/redis-server; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" --version >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

find_redis && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "redis-server: not installed and not root (install it with 'apt-get install redis-server')" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "redis-server: not installed and apt-get is not available on this system" >&2
    exit 1
fi
log=$(mktemp)
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server; } >"$log" 2>&1; then
    echo "redis-server: apt-get install redis-server failed: $(tail -n 1 "$log")" >&2
    rm -f "$log"
    exit 1
fi
rm -f "$log"
find_redis || { echo "redis-server: installed but does not start" >&2; exit 1; }
