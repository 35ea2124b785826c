// Package fuzzer is an independent Go rebuild of the Autobahn|Testsuite
// WebSocket fuzzer ("wstest" in the modes fuzzingclient and fuzzingserver).
//
// It implements its own side of the protocol (RFC 6455 framing, masking,
// opening handshake, incremental UTF-8 validation and RFC 7692
// permessage-deflate) so that it can judge a WebSocket implementation without
// sharing code with it. The behaviour follows the project's description of
// the original suite in shared/conformance/CASES.md; comments cite its
// sections as "CASES §x.y".
//
// The package is organised by concern:
//
//   - catalogue*.go: the 517 cases (ids, texts, what is sent, what is expected)
//   - selection.go: case patterns and ordering (CASES §1.4)
//   - frame.go, reader.go, utf8.go, deflate.go: the wire protocol
//   - session.go, timers in session_timers.go: the protocol engine that runs one case
//   - verdict.go: the behavior / behaviorClose rules (CASES §1.10)
//   - report.go, html.go, summary.go: index.json, per-case files, index.html
//   - handshake.go, client.go, server.go: the two roles (CASES §1.1–1.3)
//   - progress.go, estimate.go: the progress display and its estimate of the time left
package fuzzer
