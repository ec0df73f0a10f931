#!/usr/bin/env bash
# Installs the Debian packages the project needs, only when missing (idempotent).
#   scripts/ensure-system.sh redis            # for `make run`
#   scripts/ensure-system.sh redis chromium   # for `make test`
set -euo pipefail
need=()
for what in "$@"; do
  case "$what" in
    redis)    command -v redis-server >/dev/null 2>&1 || need+=(redis-server) ;;
    chromium) command -v chromium >/dev/null 2>&1 || need+=(chromium) ;;
    python)   python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv) ;;
    *) echo "ensure-system: unknown component '$what'" >&2; exit 2 ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "ensure-system: need ${need[*]} but am not root and have no sudo; install them and retry" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "ensure-system: installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
