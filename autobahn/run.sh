#!/usr/bin/env bash
# Runs the conformance suite (the Go rebuild in autobahn/fuzzer) against the
# package in both roles:
#
#   1. server role: the runner dials autobahn/testee/server once per case
#      (the suite's fuzzingclient mode);
#   2. client role: autobahn/testee/client dials the runner, which serves the
#      cases (the suite's fuzzingserver mode).
#
#   autobahn/run.sh                      # all 517 cases
#   CASES='1.*,5.*' autobahn/run.sh      # a selection, patterns as in the suite's spec files
#   EXCLUDE='9.*' autobahn/run.sh
#
# While a role runs, the runner shows its progress: on a terminal one line
# rewritten in place (case n of N, section, elapsed time, time left), in a
# log (CI) a line per section and at least every 20 s.
#
# Reports: autobahn/report/server/index.html and autobahn/report/client/index.html.
# Prints a per-section summary for each role and exits 1 when any selected
# case falls short: behavior OK (INFORMATIONAL only for 7.1.6, 7.13.1 and
# 7.13.2) and behaviorClose OK or INFORMATIONAL. Set ALLOW_UNIMPLEMENTED to a
# pattern list to tolerate UNIMPLEMENTED verdicts there.
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/bin
REPORT=$REPO/autobahn/report
CASES=${CASES:-}
EXCLUDE=${EXCLUDE:-}
ALLOW_UNIMPLEMENTED=${ALLOW_UNIMPLEMENTED:-}

echo "### building the runner and the testees"
(cd "$REPO" &&
  go build -o "$BIN/wstest" ./autobahn/cmd/wstest &&
  go build -o "$BIN/testee-server" ./autobahn/testee/server &&
  go build -o "$BIN/testee-client" ./autobahn/testee/client) || exit 2

PIDS=()
cleanup() {
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do kill "$pid" 2>/dev/null; done
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do wait "$pid" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a TCP port nobody listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

selection=()
[ -n "$CASES" ] && selection+=(-cases "$CASES")
[ -n "$EXCLUDE" ] && selection+=(-exclude "$EXCLUDE")
[ -n "$ALLOW_UNIMPLEMENTED" ] && selection+=(-allow-unimplemented "$ALLOW_UNIMPLEMENTED")

status=0
start=$(date +%s)

echo
echo "### server role: the runner tests autobahn/testee/server"
port=$(free_port)
"$BIN/testee-server" -addr "127.0.0.1:$port" >"$BIN/testee-server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do grep -q READY "$BIN/testee-server.log" && break; sleep 0.1; done
rm -rf "$REPORT/server"
"$BIN/wstest" -m fuzzingclient -url "ws://127.0.0.1:$port" -agent wirecraft \
  -outdir "$REPORT/server" -strict ${selection[@]+"${selection[@]}"} || status=1

echo
echo "### client role: autobahn/testee/client runs the cases the runner serves"
port=$(free_port)
rm -rf "$REPORT/client"
"$BIN/wstest" -m fuzzingserver -listen "127.0.0.1:$port" -outdir "$REPORT/client" \
  -strict -exit-after-reports ${selection[@]+"${selection[@]}"} &
runner=$!
PIDS+=($runner)
sleep 0.3
"$BIN/testee-client" -url "ws://127.0.0.1:$port" -agent wirecraft || status=1
wait "$runner" || status=1

echo
echo "### wall time $(($(date +%s) - start)) s; reports in autobahn/report/{server,client}/index.html"
if [ $status -ne 0 ]; then
  echo "CONFORMANCE: some cases fall short (see the tables above)"
else
  echo "CONFORMANCE: every selected case passes in both roles"
fi
exit $status
