#!/usr/bin/env bash
# Installs the Debian 12 packages tapshare needs to build, test and run the demo.
# Idempotent: does nothing when everything is present. Needs root (or sudo) only
# when something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  libcmocka-dev libssl-dev openssl libevent-dev libcurl4-openssl-dev curl
  libjansson-dev libsqlite3-dev sqlite3 libpq-dev postgresql libinih-dev jq procps
  clang libclang-rt-14-dev
  libqrencode-dev libzbar-dev libpng-dev zbar-tools
  pcscd libpcsclite-dev vsmartcard-vpcd libnfc-dev systemd util-linux scdoc
  asn1c prometheus haproxy
  chromium python3
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "bootstrap: done" >&2
