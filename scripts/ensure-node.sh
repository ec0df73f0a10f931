#!/usr/bin/env bash
# Installs the npm dependencies at the versions in package-lock.json when the lock changed
# since the last install, then builds (idempotent). `npm install --no-save` rather than
# `npm ci`: npm 11 leaves optional platform packages out of the lock and then refuses
# `npm ci` on it ("Missing: @unrs/resolver-binding-... from lock file").
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.depcanary-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "ensure-node: installing npm dependencies" >&2
  npm install --no-save --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
npx tsc -p tsconfig.json
