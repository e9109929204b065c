#!/usr/bin/env bash
# Installs the Debian packages listed in packages.debian that are missing.
# Idempotent and silent when everything is already there.
set -euo pipefail
list="$(dirname "$0")/../packages.debian"
wanted=$(sed -e 's/#.*//' "$list" | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for pkg in $wanted; do
  if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$pkg")
  fi
done
# The browser tests need npm: machines whose nodejs bundles it (NodeSource) have it already;
# on Debian's own nodejs it is the separate `npm` package (the two conflict, hence no listing).
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing ${#missing[@]} missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "error: installing packages needs root (run 'sudo make deps')" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
