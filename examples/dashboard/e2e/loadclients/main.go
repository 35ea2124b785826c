// Command loadclients keeps many WebSocket clients connected to the
// dashboard example and checks what they receive, for its browser test
// (../run.js):
//
//	go run ./examples/dashboard/e2e/loadclients -url http://127.0.0.1:8080/ -n 1000
//
// Client i is user "load-i" (-prefix), so a notification for a person such as
// ann must never reach any of them. Once all are connected it prints
//
//	READY 1000
//
// and then, once a second, "PROGRESS" with the lowest and highest update
// number the clients have reached. It runs until every connection has ended
// (the server shut down) or it gets SIGINT or SIGTERM (then it closes them
// with 1000), and prints one line for the whole run:
//
//	DONE clients=1000 updates=4..5 gaps=0 notifications=0 closes=1001:1000
//
// updates is the fewest and most updates a client received, gaps counts
// updates a client missed (a jump in seq), closes counts the close codes
// the server sent (-1: the connection ended without one). The exit status
// is 0 when every client received at least -min-updates updates, with no
// gap and no notification.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"maps"
	"math"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/wsjson"
)

// message is an update or a notification from the dashboard.
type message struct {
	Type string `json:"type"`
	Seq  uint64 `json:"seq"`
}

// client is one connection and what it has seen. Only its read goroutine
// writes the fields; they are read once it has ended, except lastSeq.
type client struct {
	conn          *websocket.Conn
	lastSeq       atomic.Uint64
	updates       int
	gaps          uint64
	notifications int
	closeCode     websocket.StatusCode
}

func (c *client) read(ctx context.Context) {
	for {
		var m message
		if err := wsjson.Read(ctx, c.conn, &m); err != nil {
			c.closeCode = websocket.CloseStatus(err)
			return
		}
		switch m.Type {
		case "update":
			// Updates are numbered by the server, one per tick; on one
			// connection each must follow the previous one.
			if last := c.lastSeq.Load(); last != 0 && m.Seq != last+1 {
				c.gaps += m.Seq - last - 1
			}
			c.lastSeq.Store(m.Seq)
			c.updates++
		case "notify":
			c.notifications++
		}
	}
}

func main() {
	base := flag.String("url", "http://127.0.0.1:8080/", "the dashboard's URL")
	n := flag.Int("n", 1000, "clients to connect")
	prefix := flag.String("prefix", "load-", "user id of client i: PREFIXi")
	minUpdates := flag.Int("min-updates", 2, "updates every client must receive")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("loadclients: ")

	wsURL := strings.Replace(strings.TrimSuffix(*base, "/"), "http", "ws", 1) + "/ws?user="
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	clients := make([]*client, *n)
	var dialing sync.WaitGroup
	slots := make(chan struct{}, 50) // handshakes under way at once
	var failed atomic.Int64
	for i := range clients {
		dialing.Add(1)
		slots <- struct{}{}
		go func() {
			defer dialing.Done()
			defer func() { <-slots }()
			dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			conn, _, err := websocket.Dial(dialCtx, fmt.Sprintf("%s%s%d", wsURL, *prefix, i), nil)
			if err != nil {
				if failed.Add(1) == 1 {
					log.Printf("client %d: %v", i, err)
				}
				return
			}
			clients[i] = &client{conn: conn}
		}()
	}
	dialing.Wait()
	if f := failed.Load(); f > 0 {
		log.Fatalf("%d of %d clients could not connect", f, *n)
	}

	// Reading runs on a context of its own: on a signal, the clients are
	// closed with a closing handshake, which a cancelled read would cut.
	var reading sync.WaitGroup
	for _, c := range clients {
		reading.Add(1)
		go func() {
			defer reading.Done()
			c.read(context.Background())
		}()
	}
	fmt.Printf("READY %d\n", *n)

	allEnded := make(chan struct{})
	go func() {
		reading.Wait()
		close(allEnded)
	}()
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
wait:
	for {
		select {
		case <-allEnded:
			break wait
		case <-ctx.Done():
			for _, c := range clients {
				go c.conn.Close(websocket.StatusNormalClosure, "")
			}
			<-allEnded
			break wait
		case <-progress.C:
			lo, hi := uint64(math.MaxUint64), uint64(0)
			for _, c := range clients {
				s := c.lastSeq.Load()
				lo, hi = min(lo, s), max(hi, s)
			}
			fmt.Printf("PROGRESS updates seq %d..%d\n", lo, hi)
		}
	}

	// The summary, once every read goroutine has ended.
	fewest, most := math.MaxInt, 0
	var gaps uint64
	notifications := 0
	closes := map[websocket.StatusCode]int{}
	for _, c := range clients {
		fewest, most = min(fewest, c.updates), max(most, c.updates)
		gaps += c.gaps
		notifications += c.notifications
		closes[c.closeCode]++
	}
	var codes []string
	for _, code := range slices.Sorted(maps.Keys(closes)) {
		codes = append(codes, fmt.Sprintf("%d:%d", code, closes[code]))
	}
	fmt.Printf("DONE clients=%d updates=%d..%d gaps=%d notifications=%d closes=%s\n",
		len(clients), fewest, most, gaps, notifications, strings.Join(codes, ","))
	if fewest < *minUpdates || gaps > 0 || notifications > 0 {
		os.Exit(1)
	}
}
