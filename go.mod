module github.com/wirecraft/websocket

go 1.24
