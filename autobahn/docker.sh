#!/usr/bin/env bash
# Runs the ORIGINAL Autobahn|Testsuite (Docker image crossbario/autobahn-testsuite)
# against the package in both roles, with the spec files in autobahn/config/:
#
#   1. server role: autobahn/testee/server listens on 127.0.0.1:9001 and the
#      suite (wstest -m fuzzingclient -s /config/fuzzingclient.json) dials it;
#   2. client role: the suite (wstest -m fuzzingserver -s /config/fuzzingserver.json)
#      listens on 127.0.0.1:9002 and autobahn/testee/client runs every case.
#
# The containers use --network host, so 127.0.0.1 in the spec files is the
# host's loopback and nothing listens on another interface. Reports:
# autobahn/report/docker-server/ and autobahn/report/docker-client/. When the
# Go rebuild's reports (make autobahn) are there too, the verdicts are
# compared case by case with autobahn/cmd/compare.
#
#   make autobahn-docker                       # or: bash autobahn/docker.sh
#   AUTOBAHN_IMAGE=crossbario/autobahn-testsuite:25.10.1 make autobahn-docker
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/bin
REPORT=$REPO/autobahn/report
CONFIG=$REPO/autobahn/config
IMAGE=${AUTOBAHN_IMAGE:-crossbario/autobahn-testsuite}
SERVER_PORT=9001 # must match autobahn/config/fuzzingclient.json
CLIENT_PORT=9002 # must match autobahn/config/fuzzingserver.json

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "autobahn-docker: no Docker engine available ('docker info' failed)." >&2
  echo "  This target runs the original suite in the $IMAGE image and needs a running Docker daemon." >&2
  echo "  Without Docker, 'make autobahn' runs the Go rebuild of the suite (autobahn/fuzzer) instead." >&2
  exit 2
fi

echo "### building the testees"
(cd "$REPO" &&
  go build -o "$BIN/testee-server" ./autobahn/testee/server &&
  go build -o "$BIN/testee-client" ./autobahn/testee/client) || exit 2

PIDS=()
CONTAINER=""
cleanup() {
  [ -n "$CONTAINER" ] && docker rm -f "$CONTAINER" >/dev/null 2>&1
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do kill "$pid" 2>/dev/null; done
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do wait "$pid" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Reports are written by the container; run it as the calling user so they
# are not owned by root.
run_args=(--rm --network host --user "$(id -u):$(id -g)"
  -v "$CONFIG:/config:ro" -v "$REPORT:/reports")
mkdir -p "$REPORT"
status=0

echo
echo "### server role: the original suite tests autobahn/testee/server on 127.0.0.1:$SERVER_PORT"
"$BIN/testee-server" -addr "127.0.0.1:$SERVER_PORT" >"$BIN/testee-server-docker.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do grep -q READY "$BIN/testee-server-docker.log" && break; sleep 0.1; done
grep -q READY "$BIN/testee-server-docker.log" || { echo "testee server did not start" >&2; exit 2; }
rm -rf "$REPORT/docker-server"
docker run "${run_args[@]}" "$IMAGE" wstest -m fuzzingclient -s /config/fuzzingclient.json || status=1

echo
echo "### client role: autobahn/testee/client runs the cases the original suite serves on 127.0.0.1:$CLIENT_PORT"
rm -rf "$REPORT/docker-client"
CONTAINER=$(docker run -d "${run_args[@]}" "$IMAGE" wstest -m fuzzingserver -s /config/fuzzingserver.json) || exit 2
# Wait (at most 60 s: the image may start slowly) until the suite listens.
up=0
for _ in $(seq 1 600); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$CLIENT_PORT") 2>/dev/null; then up=1; break; fi
  sleep 0.1
done
if [ $up -ne 1 ]; then
  echo "the suite did not listen on 127.0.0.1:$CLIENT_PORT within 60 s; its log:" >&2
  docker logs "$CONTAINER" >&2
  exit 2
fi
"$BIN/testee-client" -url "ws://127.0.0.1:$CLIENT_PORT" -agent wirecraft || status=1

echo
for role in server client; do
  echo "### $role role: autobahn/report/docker-$role/index.html"
  if [ -f "$REPORT/$role/index.json" ] && [ -f "$REPORT/docker-$role/index.json" ]; then
    (cd "$REPO" && go run ./autobahn/cmd/compare -label "docker vs rebuild ($role role)" \
      -ref "$REPORT/docker-$role/index.json" -got "$REPORT/$role/index.json") || status=1
  fi
done
exit $status
