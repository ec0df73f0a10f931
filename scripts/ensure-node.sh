#!/usr/bin/env bash
# npm ci when package-lock.json changed since the last install, then build (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.depcanary-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "ensure-node: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
npx tsc -p tsconfig.json
