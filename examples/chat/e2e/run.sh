#!/usr/bin/env bash
# examples/chat end to end: the Go tests of the chat, then its Chromium run
# (chat.e2e.js), which includes the two-instance scenario over Redis.
#
#   bash examples/chat/e2e/run.sh      (what make e2e-chat runs)
#
# Installs the npm packages (npm ci, from package-lock.json) when
# node_modules is missing. Needs Debian's chromium and redis-server
# (apt-get install -y chromium redis-server); SKIP_REDIS=1 leaves the Redis
# scenario out. Prints both parts' results and a final "N passed, M failed"
# line, counting each top-level Go test and each browser check; exits 1 if
# anything failed or could not run. Everything listens on 127.0.0.1 only.
set -u
E2E=$(cd "$(dirname "$0")" && pwd)
CHAT=$(cd "$E2E/.." && pwd)
LOG=$(mktemp -d "${TMPDIR:-/tmp}/chat-e2e.XXXXXX")
trap 'rm -rf "$LOG"' EXIT
passed=0
failed=0

echo "=== go test (examples/chat) ==="
(cd "$CHAT" && go vet . && go test -race -count=1 -v .) 2>&1 | tee "$LOG/go.txt"
status=${PIPESTATUS[0]}
# Top-level tests only: subtests are indented.
p=$(grep -cE '^--- PASS' "$LOG/go.txt")
f=$(grep -cE '^--- FAIL' "$LOG/go.txt")
# vet, a build error or a panic fail the run without a FAIL line of a test.
if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
echo "go test: $p passed, $f failed"
passed=$((passed + p))
failed=$((failed + f))

echo "=== chromium (examples/chat/e2e) ==="
e2e_ok=1
if [ ! -d "$E2E/node_modules" ]; then
  (cd "$E2E" && npm ci --no-audit --no-fund) || { echo "npm ci failed"; e2e_ok=0; }
fi
chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "no Chromium at $chromium: apt-get install -y chromium (or set CHROMIUM_PATH)"
  e2e_ok=0
fi
if [ "$e2e_ok" = 1 ]; then
  (cd "$E2E" && node chat.e2e.js) 2>&1 | tee "$LOG/e2e.txt"
  status=${PIPESTATUS[0]}
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOG/e2e.txt" | tail -1)
  if [ -n "$summary" ]; then
    read -r p _ f _ <<<"$summary"
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
  else
    echo "the browser run ended without a summary (exit status $status)"
    failed=$((failed + 1))
  fi
else
  failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
