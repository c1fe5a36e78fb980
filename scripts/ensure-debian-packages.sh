#!/usr/bin/env bash
# Installs the Debian packages the tests need (real servers and a real browser), only those missing.
# `make test` calls it, so a fresh machine and CI need no step by hand. Needs root, as CI and sessions have.
set -euo pipefail
missing=()
for package in "$@"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# one apt at a time on this machine (parallel make targets, several checkouts)
exec 9>/tmp/airflow-provider-cashflow-apt.lock
flock 9
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
