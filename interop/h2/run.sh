#!/usr/bin/env bash
# Browser test of WebSockets over HTTP/2 (RFC 8441), in headless Chromium:
#
#   interop/h2/run.sh
#
# Runs the interop/h2 server (HTTPS, self-signed certificate, page and echo
# endpoint on one origin) twice and drives Chromium against it with
# check.js:
#
#   1. with GODEBUG=http2xconnect=1: the server advertises extended CONNECT,
#      so Chromium opens the page's WebSocket on its HTTP/2 connection, and
#      the server must have seen "HTTP/2 CONNECT";
#   2. without: Chromium falls back to an HTTP/1.1 upgrade, "HTTP/1.1 Upgrade".
#
# Each mode runs the echo scenario (text, UTF-8, binary, 1 MiB, 100 in order,
# close 1000). Prints both runs and a final "N passed, M failed"; exits 1 if
# anything failed. Listens on 127.0.0.1 only. Needs /usr/bin/chromium (or
# CHROMIUM_PATH) and playwright-core from the shared interop kit
# (INTEROP_KIT, default ../shared/interop next to the repository).
set -u

REPO=$(cd "$(dirname "$0")/../.." && pwd)
KIT=${INTEROP_KIT:-$REPO/../shared/interop}
BIN=$REPO/bin
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ws-h2-interop.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -d "$KIT/node_modules/playwright-core" ]; then
  echo "playwright-core not found in $KIT/node_modules (set INTEROP_KIT)"
  echo "0 passed, 1 failed"
  exit 1
fi
mkdir -p "$BIN"
if ! (cd "$REPO" && go build -o "$BIN/h2server" ./interop/h2); then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

PASSED=0
FAILED=0
# run MODE GODEBUG EXPECT
run() {
  local mode=$1 godebug=$2 expect=$3 log=$TMP/$1.log url=
  echo "=== $mode: GODEBUG=${godebug:-(unset)}, expecting \"$expect\" ==="
  env ${godebug:+GODEBUG=$godebug} "$BIN/h2server" -addr 127.0.0.1:0 >"$TMP/$mode.out" 2>"$log" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    url=$(sed -n 's/^READY //p' "$TMP/$mode.out")
    [ -n "$url" ] && break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "FAIL server did not start"
    cat "$log"
    FAILED=$((FAILED + 1))
  else
    timeout 90 env NODE_PATH="$KIT/node_modules" node "$REPO/interop/h2/check.js" "$url" "$expect" | tee "$TMP/$mode.check"
    PASSED=$((PASSED + $(grep -c '^PASS ' "$TMP/$mode.check")))
    FAILED=$((FAILED + $(grep -c '^FAIL ' "$TMP/$mode.check")))
    grep -q -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/$mode.check" || FAILED=$((FAILED + 1))
    echo "# server log:"
    sed 's/^/#   /' "$log"
  fi
  kill "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
}

run h2 http2xconnect=1 "HTTP/2 CONNECT"
run h1 "" "HTTP/1.1 Upgrade"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
