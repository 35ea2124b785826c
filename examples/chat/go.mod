module github.com/wirecraft/websocket/examples/chat

go 1.24

require github.com/wirecraft/websocket v0.0.0

// The example is built against the package in this repository, not a
// published version.
replace github.com/wirecraft/websocket => ../..
