// Command client is the Autobahn|Testsuite testee client: it asks a suite
// in fuzzingserver mode how many cases there are, runs each one by echoing
// everything the suite sends, and finally asks it to write its reports.
//
//	go run ./autobahn/testee/client -url ws://127.0.0.1:9001 -agent wirecraft
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/url"
	"strconv"
	"time"

	"github.com/wirecraft/websocket"
)

func main() {
	base := flag.String("url", "ws://127.0.0.1:9001", "the suite's address")
	agent := flag.String("agent", "wirecraft", "name under which the suite files the results")
	flag.Parse()

	count, err := caseCount(*base)
	if err != nil {
		log.Fatalf("getCaseCount: %v", err)
	}
	for i := 1; i <= count; i++ {
		u := fmt.Sprintf("%s/runCase?case=%d&agent=%s", *base, i, url.QueryEscape(*agent))
		runCase(u)
	}
	if err := updateReports(*base, *agent); err != nil {
		log.Fatalf("updateReports: %v", err)
	}
}

// caseCount reads the one text message /getCaseCount answers with.
func caseCount(base string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, base+"/getCaseCount", nil)
	if err != nil {
		return 0, err
	}
	defer c.CloseNow()
	_, msg, err := c.Read(ctx)
	if err != nil {
		return 0, err
	}
	c.Close(websocket.StatusNormalClosure, "")
	return strconv.Atoi(string(msg))
}

// runCase echoes every message of one case, streaming, until the suite
// ends the connection. Failures are the suite's to judge, not ours.
func runCase(u string) {
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		ConnOptions: websocket.ConnOptions{ReadLimit: 64 << 20},
		Compression: &websocket.CompressionOptions{},
	})
	if err != nil {
		log.Printf("%s: %v", u, err)
		return
	}
	defer c.CloseNow()
	buf := make([]byte, 32<<10)
	for {
		typ, r, err := c.Reader(ctx)
		if err != nil {
			return
		}
		w, err := c.Writer(ctx, typ)
		if err != nil {
			return
		}
		if _, err := io.CopyBuffer(w, struct{ io.Reader }{r}, buf); err != nil {
			return
		}
		if err := w.Close(); err != nil {
			return
		}
	}
}

func updateReports(base, agent string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, base+"/updateReports?agent="+url.QueryEscape(agent), nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	// The suite writes the reports, then closes.
	_, _, err = c.Read(ctx)
	if websocket.CloseStatus(err) >= 0 {
		return nil
	}
	return err
}
