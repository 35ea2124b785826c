#!/usr/bin/env bash
# The dashboard example's tests, Go and browser (make e2e-dashboard):
#
#   examples/dashboard/e2e/run.sh
#
#   1. go test with 1,000 clients, without the race detector;
#   2. go test -race, with 200 clients (the race detector makes a thousand
#      too slow for a two-core machine; see race_test.go);
#   3. run.js: headless Chromium, two pages (ann and bob) and 1,000 Go
#      clients against the dashboard server (npm ci first when node_modules
#      is missing).
#
# Prints each step's output, then "N passed, M failed" over all the checks:
# the Go tests' top-level tests and run.js' checks. Exits 1 if anything
# failed. Loopback only; Chromium is Debian's /usr/bin/chromium (or
# CHROMIUM_PATH): install it with apt-get install chromium, nothing is
# downloaded here.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dashboard-e2e.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

PASSED=0
FAILED=0

# gotest NAME ARGS...: runs go test -v on the example and counts its
# top-level tests; a run that fails without a failing test (a build error,
# a panic) counts as one failure.
gotest() {
  local name=$1 log=$TMP/$1.log status=0
  shift
  echo "=== $name: go test $*"
  (cd "$REPO" && go test -count=1 -v "$@" ./examples/dashboard) >"$log" 2>&1 || status=$?
  grep -E '^(--- |ok |FAIL|PASS$|panic)|dashboard_test.go' "$log"
  local p f
  p=$(grep -c '^--- PASS: ' "$log")
  f=$(grep -c '^--- FAIL: ' "$log")
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    tail -20 "$log"
    f=1
  fi
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
}

gotest go-test
gotest go-test-race -race

echo "=== browser: node run.js"
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "FAIL no Chromium at ${CHROMIUM_PATH:-/usr/bin/chromium}: apt-get install chromium"
  FAILED=$((FAILED + 1))
else
  if [ ! -d "$HERE/node_modules/playwright-core" ]; then
    (cd "$HERE" && npm ci --no-audit --no-fund) || FAILED=$((FAILED + 1))
  fi
  (cd "$HERE" && node run.js) | tee "$TMP/browser.log"
  PASSED=$((PASSED + $(grep -c '^PASS ' "$TMP/browser.log")))
  FAILED=$((FAILED + $(grep -c '^FAIL ' "$TMP/browser.log")))
  # run.js always ends with its totals; without them it did not finish.
  grep -q -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/browser.log" || FAILED=$((FAILED + 1))
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
