#!/bin/sh
# Runs the permessage-deflate comparison once and prints the results:
# compression ratios over the Autobahn 12.1.4 sequence, idle memory per
# connection, then the echo benchmarks (COUNT runs each) and a summary of
# ours against the best of gorilla and coder per row.
#
#   COUNT=3 PAIRS=1000 sh bench/compress.sh
set -eu
cd "$(dirname "$0")"
COUNT=${COUNT:-3}
PAIRS=${PAIRS:-1000}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "### compression ratio"
go test -count=1 -run '^TestCompressionRatio$' -v .
echo "### idle memory"
# Flags after the package are the test binary's own.
go test -count=1 -timeout 20m -run '^TestIdleMemory$' -v . -pairs "$PAIRS"
echo "### echo benchmarks (count $COUNT)"
go test -run '^$' -bench . -benchmem -count "$COUNT" ${BENCHTIME:+-benchtime "$BENCHTIME"} -timeout 60m . | tee "$out"

echo "### ours / best peer (mean of the $COUNT runs; < 1 means ours is smaller, i.e. better)"
awk '
/^BenchmarkEcho\// {
	name = $1; sub(/-[0-9]+$/, "", name)        # drop the GOMAXPROCS suffix
	split(name, p, "/"); key = p[2] "/" p[4]     # payload/mode
	lib = p[3]
	for (i = 2; i < NF; i++) {
		if ($(i+1) == "ns/op") ns[key, lib] += $i
		if ($(i+1) == "B/op") by[key, lib] += $i
		if ($(i+1) == "allocs/op") al[key, lib] += $i
		if ($(i+1) == "wire/payload") wi[key, lib] += $i
	}
	n[key, lib]++
	if (!(key in seen)) { seen[key] = 1; order[++rows] = key }
}
function best(a, key,    g, c) {
	if (n[key, "gorilla"] && n[key, "coder"]) {
		g = a[key, "gorilla"] / n[key, "gorilla"]; c = a[key, "coder"] / n[key, "coder"]
		if (g <= c) { bestlib = "gorilla"; return g } else { bestlib = "coder"; return c }
	}
	if (n[key, "coder"]) { bestlib = "coder"; return a[key, "coder"] / n[key, "coder"] }
	if (n[key, "gorilla"]) { bestlib = "gorilla"; return a[key, "gorilla"] / n[key, "gorilla"] }
	bestlib = "-"; return 0
}
function ratio(a, key,    b, o) {
	o = a[key, "ours"] / n[key, "ours"]; b = best(a, key)
	if (b == 0) return sprintf("%8s %-7s", (o == 0 ? "1.00" : "-"), bestlib)
	return sprintf("%8.2f %-7s", o / b, bestlib)
}
END {
	printf "%-22s %16s %16s %16s %16s\n", "payload/mode", "ns/op", "B/op", "allocs/op", "wire/payload"
	for (r = 1; r <= rows; r++) {
		k = order[r]
		if (!n[k, "ours"]) continue
		printf "%-22s %16s %16s %16s %16s\n", k, ratio(ns, k), ratio(by, k), ratio(al, k), ratio(wi, k)
	}
}' "$out"
