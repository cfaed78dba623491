#!/usr/bin/env bash
# Make sure a headless Chromium is there for tests/browser: Debian's `chromium` package (a browser that downloads
# itself cannot be fetched here). Prints the browser's path on stdout; progress goes to stderr.
set -euo pipefail
log() { echo "install-chromium: $*" >&2; }

find_chromium() {
    local candidate
    for candidate in chromium chromium-browser; do
        if command -v "$candidate" >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if path="$(find_chromium)"; then
    echo "$path"
    exit 0
fi
[ "$(id -u)" = 0 ] || { log "no chromium found and not root: install Debian's chromium package"; exit 1; }
log "installing Debian's chromium package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq chromium >&2 </dev/null
path="$(find_chromium)" || { log "installed chromium but found no chromium binary"; exit 1; }
echo "$path"
