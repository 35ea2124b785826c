# make test       unit tests, race detector, vet
# make autobahn   the conformance suite in both roles (CASES=, EXCLUDE= narrow it)
# make autobahn-thirdparty  the conformance runner against gorilla/websocket
# make interop    against Node ws, Python websockets and headless Chromium
# make interop-h2 WebSockets over HTTP/2 (RFC 8441) in headless Chromium
# make fuzz       each fuzz target for FUZZTIME (60s)
# make bench      micro-benchmarks of the read, write and masking paths
# make stress     the randomized concurrency test under -race for STRESSTIME (60s)

# Recipes run in bash with pipefail, so that a command piped into tee
# (the benchmarks below) fails the target when it fails, not only when tee
# does.
SHELL := bash
.SHELLFLAGS := -o pipefail -c

FUZZTIME ?= 60s
STRESSTIME ?= 60s
# Minimizing a large new input can take the fuzzer most of its time (Go's
# default allows 60 s per input, and the compressor's inputs are slow to
# run at high levels): a short cap keeps it fuzzing.
FUZZMINIMIZETIME ?= 5s
# Patterns of cases allowed to report UNIMPLEMENTED (none: every case must pass).
ALLOW_UNIMPLEMENTED ?=

.PHONY: wsbench test autobahn autobahn-docker calibrate interop interop-h2 fuzz bench stress

test:
	go vet ./...
	go test -race ./...
	# sync.Pool drops objects at random under -race, and it enlarges every
	# allocation and stack frame: the allocation and memory tests run
	# without it.
	go test -count=1 -run 'Alloc|Memory' .
	# Masking on amd64 is assembly (internal/wsmask/mask_amd64.s); the
	# purego build tag selects the word loop other architectures use.
	go test -count=1 -tags purego -run Mask ./internal/wsmask/ .

autobahn:
	CASES='$(CASES)' EXCLUDE='$(EXCLUDE)' ALLOW_UNIMPLEMENTED='$(ALLOW_UNIMPLEMENTED)' bash autobahn/run.sh

# The runner against gorilla/websocket's echo server and Autobahn client
# (../shared/interop/selftest), as another project would use it: sections
# 1-7 and 10 unless CASES= says otherwise; reports in
# autobahn/report/thirdparty/. Fails only when the runner could not run.
.PHONY: autobahn-thirdparty
autobahn-thirdparty:
	CASES='$(CASES)' EXCLUDE='$(EXCLUDE)' bash autobahn/thirdparty.sh

# The original suite (Docker image crossbario/autobahn-testsuite) in both roles
# with autobahn/config/*.json; reports in autobahn/report/docker-{server,client}/.
autobahn-docker:
	bash autobahn/docker.sh

calibrate:
	bash autobahn/calibrate.sh

interop:
	bash interop/run.sh

# Needs Chromium and playwright-core, which make interop installs.
interop-h2:
	bash interop/h2/run.sh

# package:target pairs
FUZZ_TARGETS = .:FuzzReadFrames .:FuzzServerHandshake .:FuzzAcceptConn .:FuzzUTF8Validator .:FuzzReadCompressed .:FuzzParseExtensions ./internal/flatewin:FuzzCompressor

fuzz:
	@for entry in $(FUZZ_TARGETS); do \
		pkg=$${entry%%:*}; target=$${entry#*:}; \
		echo "### $$pkg $$target"; \
		go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg || exit 1; \
	done

# make bench: the Go micro-benchmarks (benchstat-friendly: -count 6), the
# peer comparisons of bench/ (masking, broadcast), then the side-by-side
# wsbench run against gorilla, coder, gobwas and gws with this package's
# echo server as the baseline. WSBENCH_ARGS="--profile quick" for a shorter
# run; WSBENCH=0 skips it.
WSBENCH ?= 1
BENCH_ROUNDS = 1 2 3 4 5 6
WSBENCH_ARGS ?= --profile full --repeats 5
WSBENCH_DIR ?= ../shared/wsbench

bench:
	go test -run '^$$' -bench . -benchmem -count 6 . | tee bench.txt
	# The peer comparisons run as rounds of -count 1, so that in each
	# round every library runs close together in time; peerratio pairs
	# them by round (ours ÷ the best peer) and takes the median.
	cd bench && for round in $(BENCH_ROUNDS); do \
		go test -run '^$$' -bench 'Mask|Broadcast' -benchmem -benchtime 300ms -count 1 . || exit 1; \
	done | tee ../bench-peers.txt
	cd bench && go run ./peerratio < ../bench-peers.txt | tee ../bench-peers-ratio.txt
	# The same masking comparison with the purego build tag: our word loop
	# instead of the assembly (and the peers' pure-Go fallbacks where they
	# honour the tag).
	cd bench && for round in $(BENCH_ROUNDS); do \
		go test -tags purego -run '^$$' -bench 'Mask' -benchmem -benchtime 300ms -count 1 . || exit 1; \
	done | tee ../bench-mask-purego.txt
	cd bench && go run ./peerratio < ../bench-mask-purego.txt | tee ../bench-mask-purego-ratio.txt
	if [ "$(WSBENCH)" = 1 ]; then $(MAKE) wsbench; fi

wsbench:
	go build -o $(CURDIR)/bin/echo ./examples/echo
	cd $(WSBENCH_DIR) && ./run.sh $(WSBENCH_ARGS) --baseline project \
		--server 'name=project,cmd=$(CURDIR)/bin/echo -addr {addr}'

# make stress: TestStress (stress_test.go) with the race detector, starting
# iterations for STRESSTIME. GODEBUG=http2xconnect=1 lets it use HTTP/2
# without running itself again. The whole output goes to stress.out, with
# a line naming each iteration's seed as it starts, so that a data race
# report (which the test cannot see) is matched to the iteration before it;
# the terminal gets everything but those lines, then the totals.
stress:
	@status=0; \
	GODEBUG=$${GODEBUG:+$$GODEBUG,}http2xconnect=1 go test -race -count=1 -timeout 0 -run '^TestStress$$' -v . \
		-stress.time=$(STRESSTIME) -stress.trace 2>&1 | tee stress.out | grep -v '^stress iteration ' || status=$$?; \
	echo '=== stress totals'; \
	sed -n 's/^ *stress_test.go:[0-9]*: //p' stress.out | grep -E '^stress( totals)?: (seed|seeds|failing)' ; \
	awk '/^stress iteration / { seed = $$5; sub(/:$$/, "", seed) } \
		/^WARNING: DATA RACE/ { races++; if (!(seed in seen)) { seen[seed] = 1; seeds = seeds " " seed } } \
		END { printf "data race reports: %d%s\n", races, races ? " (seeds:" seeds ")" : "" }' stress.out; \
	exit $$status

# make bench-scale: the scale benchmark of bench/scale (bench/README.md,
# "Scale"): idle connections, broadcast, a reconnect storm and active
# connections, ours against gorilla, coder, gobwas and gws, each server a
# process of its own, three runs of each: about an hour. QUICK=1 runs the
# smoke version, one run of each (under two minutes);
# SCALE_ARGS passes more flags (go run ./scale -h).
.PHONY: bench-scale
bench-scale:
	cd bench && go run ./scale $(if $(filter 1,$(QUICK)),-quick) $(SCALE_ARGS)

# make soak: 10,000 connections against a server of this package for
# SOAKTIME, then the report (internal/soak); fails if anything was lost or
# the server did not come back to its baseline.
SOAKTIME ?= 60s
.PHONY: soak
soak:
	go run ./internal/soak -duration $(SOAKTIME)

# make e2e-dashboard: the dashboard example's tests (examples/dashboard):
# go test with 1,000 clients, go test -race with 200, then headless Chromium
# (Debian's /usr/bin/chromium) with two pages and 1,000 Go clients against
# the server; ends with "N passed, M failed" (examples/dashboard/e2e/run.sh).
.PHONY: e2e-dashboard
e2e-dashboard:
	bash examples/dashboard/e2e/run.sh

# make e2e-chat: the chat example's tests (examples/chat): go vet and
# go test -race, then headless Chromium (Debian's /usr/bin/chromium) with
# three pages against the server, killed and restarted mid-run, and two
# instances linked through a redis-server that is restarted too; ends with
# "N passed, M failed" (examples/chat/e2e/run.sh).
.PHONY: e2e-chat
e2e-chat:
	bash examples/chat/e2e/run.sh

# make test-redis: the tests of redisfanout (a module of its own) against a
# real redis-server, which they start themselves on loopback ports; they
# fail without one (apt-get install redis-server).
.PHONY: test-redis
test-redis:
	cd redisfanout && go test -race -count=1 ./...
