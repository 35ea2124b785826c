#!/usr/bin/env bash
# Calibrate the Go fuzzer against the verdicts of the original Autobahn
# suite: run the runner against the gorilla/websocket testees of
# shared/interop/selftest in both roles, with the case selection of each
# reference folder's spec.json, and compare behavior, behaviorClose and
# remoteCloseCode case by case with the reference index.json.
#
#   autobahn/calibrate.sh                 # all five reference runs
#   autobahn/calibrate.sh client-gorilla  # only the named run(s)
#
# Environment: SHARED (default /work/shared), OUT (default
# autobahn/calibration, git-ignored), PORT_BASE for the fuzzingserver
# ports (default 9202).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED:-/work/shared}
REF=$SHARED/conformance/reference
SELFTEST=$SHARED/interop/selftest
OUT=${OUT:-$HERE/calibration}
PORT_BASE=${PORT_BASE:-9202}
BIN=$OUT/bin
mkdir -p "$BIN"

PIDS=()
cleanup() {
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do kill "$pid" 2>/dev/null; done
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do wait "$pid" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "### building the testees (gorilla/websocket) and the runner into $BIN"
(cd "$SELFTEST" && go build -o "$BIN/echoserver" ./echoserver && go build -o "$BIN/autobahnclient" ./autobahnclient) || exit 2
(cd "$HERE" && go build -o "$BIN/wstest" ./cmd/wstest && go build -o "$BIN/compare" ./cmd/compare) || exit 2

# start_echo NAME FLAGS... : start the gorilla echo server on a free port,
# set $url and $echo_pid.
start_echo() {
  local name=$1
  shift
  "$BIN/echoserver" -addr 127.0.0.1:0 "$@" >"$OUT/$name.echo.out" 2>"$OUT/$name.echo.err" &
  echo_pid=$!
  PIDS+=("$echo_pid")
  url=
  for _ in $(seq 1 100); do
    url=$(awk '/^READY /{print $2; exit}' "$OUT/$name.echo.out" 2>/dev/null)
    [ -n "$url" ] && return 0
    sleep 0.1
  done
  echo "echo server $name did not start"
  return 1
}

results=()
failures=0

# compare_run NAME SECONDS
compare_run() {
  local name=$1 secs=$2 line
  "$BIN/compare" -label "$name" -ref "$REF/$name/index.json" -got "$OUT/$name/index.json" >"$OUT/$name.compare" 2>&1
  local rc=$?
  cat "$OUT/$name.compare"
  line=$(head -1 "$OUT/$name.compare")
  results+=("$line (runner wall time ${secs}s)")
  [ $rc -eq 0 ] || failures=$((failures + 1))
}

# server_run NAME AGENT ECHOFLAGS... : the runner is the client (fuzzingclient).
server_run() {
  local name=$1 agent=$2
  shift 2
  echo
  echo "### $name: wstest -m fuzzingclient against echoserver $*"
  start_echo "$name" "$@" || { failures=$((failures + 1)); return; }
  rm -rf "${OUT:?}/$name"
  local t0=$SECONDS
  timeout 3000 "$BIN/wstest" -m fuzzingclient -s "$REF/$name/spec.json" -url "$url" -agent "$agent" \
    -outdir "$OUT/$name" -q >"$OUT/$name.log" 2>&1
  local secs=$((SECONDS - t0))
  kill "$echo_pid" 2>/dev/null
  wait "$echo_pid" 2>/dev/null
  sed -n '/^agent/,$p' "$OUT/$name.log"
  compare_run "$name" "$secs"
}

# client_run NAME PORT AGENT CLIENTFLAGS... : the runner is the server (fuzzingserver).
client_run() {
  local name=$1 port=$2 agent=$3
  shift 3
  echo
  echo "### $name: wstest -m fuzzingserver, driven by autobahnclient $*"
  rm -rf "${OUT:?}/$name"
  local t0=$SECONDS
  timeout 3000 "$BIN/wstest" -m fuzzingserver -s "$REF/$name/spec.json" -url "ws://127.0.0.1:$port" \
    -outdir "$OUT/$name" -exit-after-reports -q >"$OUT/$name.log" 2>&1 &
  local srv=$!
  PIDS+=("$srv")
  for _ in $(seq 1 50); do
    grep -q listening "$OUT/$name.log" 2>/dev/null && break
    sleep 0.1
  done
  timeout 3000 "$BIN/autobahnclient" -url "ws://127.0.0.1:$port" -agent "$agent" "$@" >"$OUT/$name.client.log" 2>&1
  wait "$srv"
  local secs=$((SECONDS - t0))
  sed -n '/^agent/,$p' "$OUT/$name.log"
  compare_run "$name" "$secs"
}

want() { # want NAME: is the run selected on the command line?
  [ ${#SELECTED[@]} -eq 0 ] && return 0
  for s in "${SELECTED[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}
SELECTED=("$@")

want server-gorilla-echo && server_run server-gorilla-echo gorilla-1.5.3
want server-gorilla-echo-faulty && server_run server-gorilla-echo-faulty gorilla-1.5.3-faulty -faulty
want server-gorilla-echo-compress-12-13-sizes1-9 && server_run server-gorilla-echo-compress-12-13-sizes1-9 gorilla-1.5.3-deflate -compress
want client-gorilla && client_run client-gorilla "$PORT_BASE" gorilla-client-1.5.3
want client-gorilla-validate-utf8 && client_run client-gorilla-validate-utf8 $((PORT_BASE + 1)) gorilla-client-1.5.3-utf8 -validate-utf8

echo
echo "### calibration summary"
for r in "${results[@]}"; do echo "  $r"; done
[ $failures -eq 0 ]
