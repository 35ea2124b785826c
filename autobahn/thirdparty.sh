#!/usr/bin/env bash
# Runs the conformance runner against a WebSocket library we did not write,
# gorilla/websocket, in both roles, the way any other project would use it:
#
#   1. server role: wstest -m fuzzingclient against gorilla's echo server;
#   2. client role: wstest -m fuzzingserver, driven by gorilla's Autobahn
#      client (getCaseCount, runCase 1..N, updateReports).
#
# Both programs come from shared/interop/selftest, a module of its own that
# requires gorilla/websocket (this repository's go.mod does not); they are
# built into a temporary directory because shared/ is read-only.
#
#   autobahn/thirdparty.sh                       # the default selection below
#   CASES='1.*,2.*' autobahn/thirdparty.sh
#
# The default selection leaves out the long sections: 9 (megabyte messages,
# about 25 s per role against gorilla) and 12/13 (permessage-deflate, which
# the echo server does not enable without -compress).
#
# Exit status: 0 when both runs completed, whatever the verdicts. gorilla
# echoes invalid UTF-8 instead of failing the connection with 1007
# (RFC 6455 §8.1), so some 6.x cases fail: those misses are gorilla's and
# are reported, not fatal. 1 when the runner or a testee could not run.
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
SELFTEST=${SELFTEST:-$REPO/../shared/interop/selftest}
REPORT=${REPORT:-$REPO/autobahn/report/thirdparty}
CASES=${CASES:-1.*,2.*,3.*,4.*,5.*,6.*,7.*,10.*}
EXCLUDE=${EXCLUDE:-}

BIN=$(mktemp -d "${TMPDIR:-/tmp}/wstest-thirdparty.XXXXXX")
PIDS=()
cleanup() {
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do kill "$pid" 2>/dev/null; done
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do wait "$pid" 2>/dev/null; done
  rm -rf "$BIN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -f "$SELFTEST/go.mod" ]; then
  echo "THIRDPARTY: no gorilla testees at $SELFTEST (set SELFTEST to shared/interop/selftest)"
  exit 1
fi

echo "### building wstest, gorilla/websocket's echo server and its Autobahn client into $BIN"
(cd "$REPO" && go build -o "$BIN/wstest" ./autobahn/cmd/wstest) || exit 1
(cd "$SELFTEST" && go build -o "$BIN/echoserver" ./echoserver &&
  go build -o "$BIN/autobahnclient" ./autobahnclient) || exit 1
gorilla=$(cd "$SELFTEST" && go list -m -f '{{.Version}}' github.com/gorilla/websocket)

selection=(-cases "$CASES")
[ -n "$EXCLUDE" ] && selection+=(-exclude "$EXCLUDE")
want=$("$BIN/wstest" -list "${selection[@]}" | wc -l)
status=0
start=$SECONDS

# check_report ROLE DIR: the run must have left a report of every selected case.
check_report() {
  local got
  got=$(grep -c '"behavior"' "$2/index.json" 2>/dev/null)
  if [ "${got:-0}" -ne "$want" ]; then
    echo "THIRDPARTY: $1 role: the report holds ${got:-no} of the $want selected cases"
    status=1
  fi
}

echo
echo "### server role: wstest -m fuzzingclient tests gorilla/websocket $gorilla's echo server ($want cases)"
"$BIN/echoserver" -addr 127.0.0.1:0 >"$BIN/echoserver.out" 2>"$BIN/echoserver.err" &
PIDS+=($!)
url=
for _ in $(seq 1 100); do
  url=$(awk '/^READY /{print $2; exit}' "$BIN/echoserver.out")
  [ -n "$url" ] && break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "THIRDPARTY: gorilla's echo server did not start"
  cat "$BIN/echoserver.err"
  exit 1
fi
rm -rf "$REPORT/server"
# -strict=false: a miss is gorilla's; only a run that could not be done
# (status 2) is the runner's.
"$BIN/wstest" -m fuzzingclient -url "$url" -agent "gorilla-$gorilla" -outdir "$REPORT/server" \
  -strict=false "${selection[@]}" || status=1
check_report server "$REPORT/server"

echo
echo "### client role: gorilla/websocket $gorilla's Autobahn client runs the cases of wstest -m fuzzingserver"
rm -rf "$REPORT/client"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN/wstest" -m fuzzingserver -listen "127.0.0.1:$port" -outdir "$REPORT/client" -exit-after-reports \
  -strict=false "${selection[@]}" &
runner=$!
PIDS+=($runner)
# Wait until it accepts connections (it drops a bare TCP connect).
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
"$BIN/autobahnclient" -url "ws://127.0.0.1:$port" -agent "gorilla-client-$gorilla" >"$BIN/autobahnclient.out" 2>&1 || {
  echo "THIRDPARTY: gorilla's client failed:"
  cat "$BIN/autobahnclient.out"
  status=1
  kill "$runner" # it reports the cases run so far
}
wait "$runner" || status=1
check_report client "$REPORT/client"

echo
echo "### wall time $((SECONDS - start)) s; reports in autobahn/report/thirdparty/{server,client}/index.html"
if [ $status -ne 0 ]; then
  echo "THIRDPARTY: the runner did not complete (see above)"
else
  echo "THIRDPARTY: both runs completed; the misses listed above are gorilla/websocket's"
fi
exit $status
