#!/usr/bin/env bash
# Interop run of this package against peers we did not write, both ways:
#
#   interop/run.sh
#
# 1. our SERVER (examples/echo) against the Node ws, Python websockets and
#    headless Chromium clients: ../shared/interop/run-all.sh, once as the peers
#    come (all three offer permessage-deflate, which the server accepts) and
#    once with NO_DEFLATE=1 (Node and Python do not offer it);
# 2. our CLIENT (interop/echoclient) against the Node ws, Python websockets and
#    Node ws + deflate echo servers: ../shared/interop/server-check/run-server-check.sh,
#    without and with permessage-deflate offered (-compress).
#
# Prints both parts' output, their summaries and a final "N passed, M failed"
# line; exits 1 if anything failed or could not run. Binaries go to bin/ at
# the repository root (git-ignored). Everything listens on 127.0.0.1 only.
# The kit's setup.sh installs what is missing (npm modules; python3-websockets
# and chromium through apt-get, which needs root or sudo).
#
# Environment: INTEROP_KIT overrides the kit's path (default ../shared/interop
# next to the repository).
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
KIT=${INTEROP_KIT:-$REPO/../shared/interop}
BIN=$REPO/bin

if [ ! -x "$KIT/run-all.sh" ]; then
  echo "interop kit not found at $KIT (set INTEROP_KIT)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
KIT=$(cd "$KIT" && pwd)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ws-project-interop.XXXXXX")
SERVER_PID=
cleanup() {
  # Only the echo server is ours to stop; the kit's scripts stop their own.
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# last_summary FILE: the "N passed, M failed" line a kit script ends with, or
# nothing if it did not get that far.
last_summary() {
  grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -1
}

echo "=== build ==="
mkdir -p "$BIN"
# Built once up front: a "go run" per check would compile inside the
# kit's 60 s limits.
if ! (cd "$REPO" && go build -o "$BIN/echo" ./examples/echo && go build -o "$BIN/echoclient" ./interop/echoclient); then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "# built $BIN/echo and $BIN/echoclient with $(go version)"

echo "=== start examples/echo ==="
# Port 0: the kernel picks a free port, which the server prints as
# "READY ws://ADDR/". No guessing, no race with other listeners.
"$BIN/echo" -addr 127.0.0.1:0 >"$TMP/echo.out" 2>"$TMP/echo.err" &
SERVER_PID=$!
URL=
for _ in $(seq 1 100); do # up to 10 s
  URL=$(awk '/^READY /{print $2; exit}' "$TMP/echo.out")
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$URL" ]; then
  echo "the echo server did not start: $(tail -5 "$TMP/echo.err")"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "# echo server (pid $SERVER_PID) at $URL"

echo "=== part 1: their clients -> our server, permessage-deflate as offered ==="
"$KIT/run-all.sh" "$URL" "$BIN/chromium-client-check.png" 2>&1 | tee "$TMP/clients.log"
clients_rc=${PIPESTATUS[0]}
echo "=== part 1b: their clients -> our server, NO_DEFLATE=1 ==="
NO_DEFLATE=1 SKIP_SETUP=1 "$KIT/run-all.sh" "$URL" "$BIN/chromium-client-check-nodeflate.png" 2>&1 | tee "$TMP/clients-plain.log"
clients_plain_rc=${PIPESTATUS[0]}
if [ -s "$TMP/echo.err" ]; then
  echo "# echo server log:"
  tail -n 20 "$TMP/echo.err" | sed 's/^/#   /'
fi
# The server is only needed for part 1.
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=

echo "=== part 2: our client -> their servers ==="
"$KIT/server-check/run-server-check.sh" "$BIN/echoclient" -url '{URL}' 2>&1 | tee "$TMP/servers.log"
servers_rc=${PIPESTATUS[0]}
echo "=== part 2b: our client, offering permessage-deflate -> their servers ==="
"$KIT/server-check/run-server-check.sh" "$BIN/echoclient" -compress -url '{URL}' 2>&1 | tee "$TMP/servers-deflate.log"
servers_deflate_rc=${PIPESTATUS[0]}

# Combine. A part that ended without its summary line (setup failed, killed)
# counts as one failure, so the total can never look clean by accident.
total_pass=0
total_fail=0
echo "=== summary ==="
for part in clients clients-plain servers servers-deflate; do
  case $part in
    clients) label="their clients -> our server ($URL), deflate as offered" rc=$clients_rc ;;
    clients-plain) label="their clients -> our server, NO_DEFLATE=1" rc=$clients_plain_rc ;;
    servers) label="our client -> their servers" rc=$servers_rc ;;
    servers-deflate) label="our client offering deflate -> their servers" rc=$servers_deflate_rc ;;
  esac
  line=$(last_summary "$TMP/$part.log")
  if [ -z "$line" ]; then
    echo "# $label: no summary (exit status $rc)"
    total_fail=$((total_fail + 1))
    continue
  fi
  p=${line%% passed*}
  f=${line#*passed, }
  f=${f%% failed}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1 # a non-zero exit with no FAIL line is still a failure
  fi
  echo "# $label: $line"
  grep -E '^# [a-z-]+: [0-9]+ passed' "$TMP/$part.log" | sed 's/^# /#   /'
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
