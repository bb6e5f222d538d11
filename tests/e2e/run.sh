#!/usr/bin/env bash
# Browser tests, end to end: npm ci, build renkou and the seed helper, seed a temporary register,
# start `renkou serve` on a free port, run tests/e2e/e2e.mjs in headless Debian Chromium, stop.
# Last line: "N passed, N failed". Needs /usr/bin/chromium (apt-get install -y chromium).
set -euo pipefail
cd "$(dirname "$0")"
E2E="$PWD"
ROOT="$(cd ../.. && pwd)"
if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM:-}" ]; then
  echo "chromium missing: apt-get install -y chromium" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
npm ci --no-audit --no-fund --silent >/dev/null
(cd "$ROOT" && cargo build -q -p renkou-cli --bin renkou && cargo build -q -p renkou-web --example e2e_seed)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK="$(mktemp -d)"
PASSWORD="e2e-$(date +%s)-pw"
"$TARGET/debug/examples/e2e_seed" "$WORK/e2e.db" "$PASSWORD" >/dev/null
# 西大吾村一组 and its group leader gl1 (monthly report steps).
"$TARGET/debug/renkou" area add-group --db "$WORK/e2e.db" --village 130131200201 --number 1 --name 一组 >/dev/null
"$TARGET/debug/renkou" user add --db "$WORK/e2e.db" --username gl1 --role group_leader --area 130131200201001 --password "$PASSWORD" >/dev/null
# pw1 changes her password in the account step (the other users keep theirs).
"$TARGET/debug/renkou" user add --db "$WORK/e2e.db" --username pw1 --role township_staff --area 130131200 --password "$PASSWORD" >/dev/null
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$TARGET/debug/renkou" serve --db "$WORK/e2e.db" --addr "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  if curl -sf "http://127.0.0.1:$PORT/login" >/dev/null; then break; fi
  sleep 0.1
done
RENKOU_URL="http://127.0.0.1:$PORT" RENKOU_PASSWORD="$PASSWORD" node "$E2E/e2e.mjs"
