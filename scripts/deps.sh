#!/usr/bin/env bash
# Installs the Debian packages theke needs to build, run and test, but only
# those that are missing, so a second run costs nothing; then the Node
# clients the interop tests drive (tests/node, pinned by its
# package-lock.json), again only when they are missing or out of date.
# Chromium (for the Converse.js test) is Debian's: no browser is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential pkg-config libexpat1-dev libssl-dev libsqlite3-dev
      libidn-dev liblz4-dev libcmocka-dev python3-slixmpp libstrophe-dev openssl
      libhttp-parser-dev python3-lz4 nodejs chromium)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    SUDO=
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        "${missing[@]}" >/dev/null
fi

# npm writes node_modules/.package-lock.json on every install: older than
# the committed lock means the pinned set changed.
node_dir=tests/node
if [ ! -e "$node_dir/node_modules/.package-lock.json" ] ||
   [ "$node_dir/package-lock.json" -nt \
     "$node_dir/node_modules/.package-lock.json" ]; then
    echo "installing the Node test clients (npm ci in $node_dir)"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
