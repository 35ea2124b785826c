module github.com/wirecraft/websocket/examples/chat

go 1.26.0

require (
	github.com/wirecraft/websocket v0.0.0
	github.com/wirecraft/websocket/redisfanout v0.0.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

// The example is built against the packages in this repository, not
// published versions.
replace (
	github.com/wirecraft/websocket => ../..
	github.com/wirecraft/websocket/redisfanout => ../../redisfanout
)
