module github.com/wirecraft/websocket/bench

go 1.26

replace github.com/wirecraft/websocket => ../

require (
	github.com/coder/websocket v1.8.15
	github.com/gobwas/ws v1.5.0
	github.com/gorilla/websocket v1.5.3
	github.com/wirecraft/websocket v0.0.0
)

require github.com/gobwas/httphead v0.1.0 // indirect
