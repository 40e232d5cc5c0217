#!/usr/bin/env bash
# Installs the Debian packages theke needs to build, run and test, but only
# those that are missing, so a second run costs nothing.
set -euo pipefail

pkgs=(build-essential pkg-config libexpat1-dev libssl-dev libsqlite3-dev
      libidn-dev libcmocka-dev python3-slixmpp libstrophe-dev openssl
      libhttp-parser-dev)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
