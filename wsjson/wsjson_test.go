package wsjson_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wirecraft/websocket"
	"github.com/wirecraft/websocket/internal/leakcheck"
	"github.com/wirecraft/websocket/wsjson"
)

// waitLimit bounds every wait of these tests, so that a bug fails a test
// instead of hanging it.
const waitLimit = 10 * time.Second

// startServer runs handle for each connection of an httptest server and
// returns a client connection to it. Everything is closed, and checked
// for leaked goroutines, when the test ends.
func startServer(t *testing.T, handle func(ctx context.Context, c *websocket.Conn)) *websocket.Conn {
	t.Helper()
	t.Cleanup(leakcheck.Check(t))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		handle(r.Context(), c)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// echo sends every message back as it came.
func echo(ctx context.Context, c *websocket.Conn) {
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, msg); err != nil {
			return
		}
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

type note struct {
	From string   `json:"from"`
	Text string   `json:"text"`
	Tags []string `json:"tags,omitempty"`
}

// Values written with Write come back equal through Read, whatever their
// size: a message larger than the connection's buffers is sent in
// fragments and decoded as it arrives.
func TestRoundTrip(t *testing.T) {
	c := startServer(t, echo)
	ctx := testContext(t)
	for _, tt := range []struct {
		name string
		v    any
	}{
		{"struct", note{From: "ada", Text: "héllo, 世界 <b>", Tags: []string{"a", "b"}}},
		{"map", map[string]any{"n": 1.5, "ok": true, "none": nil}},
		{"string", "just a string"},
		{"number", 42.0},
		{"large", note{From: "big", Text: strings.Repeat("0123456789", 200_000)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := wsjson.Write(ctx, c, tt.v); err != nil {
				t.Fatalf("Write: %v", err)
			}
			got := reflect.New(reflect.TypeOf(tt.v))
			if err := wsjson.Read(ctx, c, got.Interface()); err != nil {
				t.Fatalf("Read: %v", err)
			}
			if !reflect.DeepEqual(got.Elem().Interface(), tt.v) {
				t.Errorf("read back %v, want %v", got.Elem().Interface(), tt.v)
			}
		})
	}
}

// Write sends one text message: the JSON encoding and json.Encoder's
// newline.
func TestWriteMessage(t *testing.T) {
	c := startServer(t, echo)
	ctx := testContext(t)
	if err := wsjson.Write(ctx, c, note{From: "ada", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	typ, msg, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"from":"ada","text":"hi"}` + "\n"; typ != websocket.MessageText || string(msg) != want {
		t.Errorf("peer got %v %q, want text %q", typ, msg, want)
	}
}

// Read refuses a message that is not one JSON value of the right shape,
// and the connection goes on: the next Read gets the next message whole.
func TestReadRefuses(t *testing.T) {
	for _, tt := range []struct {
		name    string
		typ     websocket.MessageType
		msg     string
		wantErr string // a substring of the error; "" for success
		wantAs  any    // a pointer to an error type the error must wrap, if set
	}{
		{name: "value", typ: websocket.MessageText, msg: `{"from":"ada"}`},
		{name: "trailing whitespace", typ: websocket.MessageText, msg: "{\"from\":\"ada\"} \t\r\n "},
		{name: "second value", typ: websocket.MessageText, msg: `{"from":"ada"} {"from":"bob"}`, wantErr: "data after the JSON value"},
		{name: "trailing garbage", typ: websocket.MessageText, msg: `{"from":"ada"}x`, wantErr: "data after the JSON value"},
		{name: "garbage after a large gap", typ: websocket.MessageText, msg: `{"from":"ada"}` + strings.Repeat(" ", 100_000) + "x", wantErr: "data after the JSON value"},
		{name: "empty", typ: websocket.MessageText, msg: "", wantErr: "decoding: unexpected EOF"},
		{name: "truncated", typ: websocket.MessageText, msg: `{"from":`, wantErr: "decoding: unexpected EOF"},
		{name: "not JSON", typ: websocket.MessageText, msg: `hello`, wantErr: "decoding:", wantAs: new(*json.SyntaxError)},
		{name: "wrong type", typ: websocket.MessageText, msg: `{"from":7}`, wantErr: "decoding:", wantAs: new(*json.UnmarshalTypeError)},
		{name: "binary", typ: websocket.MessageBinary, msg: `{"from":"ada"}`, wantErr: "got a binary message, want text"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := startServer(t, func(ctx context.Context, c *websocket.Conn) {
				if c.Write(ctx, tt.typ, []byte(tt.msg)) != nil {
					return
				}
				if c.Write(ctx, websocket.MessageText, []byte(`{"from":"next"}`)) != nil {
					return
				}
				c.Read(ctx) // until the client closes
			})
			ctx := testContext(t)

			var n note
			err := wsjson.Read(ctx, c, &n)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Read: %v", err)
			case tt.wantErr == "" && n.From != "ada":
				t.Fatalf("Read decoded %+v", n)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), "wsjson: ") || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Read: error %v, want one with %q", err, tt.wantErr)
			case tt.wantAs != nil && !errors.As(err, tt.wantAs):
				t.Fatalf("Read: error %v does not wrap a %T", err, reflect.TypeOf(tt.wantAs).Elem())
			}

			var next note
			if err := wsjson.Read(ctx, c, &next); err != nil || next.From != "next" {
				t.Errorf("the Read after: %+v, %v; want the next message", next, err)
			}
		})
	}
}

// errNoMarshal is what unmarshalable's MarshalJSON fails with.
var errNoMarshal = errors.New("cannot marshal this")

type unmarshalable struct{}

func (unmarshalable) MarshalJSON() ([]byte, error) { return nil, errNoMarshal }

// A value that cannot be encoded sends nothing, and leaves the connection
// free for the next message: the peer's next message is the next value.
func TestWriteEncodingError(t *testing.T) {
	for _, tt := range []struct {
		name  string
		v     any
		check func(error) bool
	}{
		{"unsupported type", map[string]any{"f": func() {}}, func(err error) bool {
			var ute *json.UnsupportedTypeError
			return errors.As(err, &ute)
		}},
		{"failing MarshalJSON", []any{1, unmarshalable{}}, func(err error) bool { return errors.Is(err, errNoMarshal) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := startServer(t, echo)
			ctx := testContext(t)
			err := wsjson.Write(ctx, c, tt.v)
			if err == nil || !strings.HasPrefix(err.Error(), "wsjson: encoding: ") || !tt.check(err) {
				t.Fatalf("Write: error %v, want the encoding error wrapped", err)
			}
			// Had the message been left open, this Write would wait for it
			// until ctx ends.
			if err := wsjson.Write(ctx, c, note{From: "next"}); err != nil {
				t.Fatalf("the Write after: %v", err)
			}
			var got note
			if err := wsjson.Read(ctx, c, &got); err != nil || got.From != "next" {
				t.Errorf("the peer's first message: %+v, %v; want the second value", got, err)
			}
		})
	}
}

// When the peer closes, Read's error carries its close code.
func TestReadAfterClose(t *testing.T) {
	c := startServer(t, func(ctx context.Context, c *websocket.Conn) {
		c.Close(websocket.StatusGoingAway, "bye")
	})
	var n note
	err := wsjson.Read(testContext(t), c, &n)
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway || !strings.HasPrefix(err.Error(), "wsjson: reading: ") {
		t.Errorf("Read: %v (close status %v), want the peer's 1001", err, got)
	}
}

// Write's error wraps the connection's once it is closed.
func TestWriteAfterClose(t *testing.T) {
	c := startServer(t, echo)
	c.CloseNow()
	err := wsjson.Write(testContext(t), c, note{})
	if err == nil || !strings.HasPrefix(err.Error(), "wsjson: writing: ") || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write on a closed connection: %v, want net.ErrClosed wrapped", err)
	}
}
