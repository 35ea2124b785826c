package websocket

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

// acceptedPair dials a test server and returns both ends.
func acceptedPair(t *testing.T) (server, client *Conn) {
	t.Helper()
	accepted := make(chan *Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		accepted <- c
		<-c.Done()
	}))
	t.Cleanup(srv.Close)
	client, _, err := Dial(bg, wsURL(srv), &DialOptions{ConnOptions: ConnOptions{CloseTimeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	t.Cleanup(func() { client.CloseNow(); server.CloseNow() })
	return server, client
}

func TestNetConnStream(t *testing.T) {
	server, client := acceptedPair(t)
	go func() {
		for _, m := range []string{"hel", "", "lo ", "world"} {
			server.Write(bg, MessageBinary, []byte(m))
		}
		server.Close(StatusNormalClosure, "")
	}()
	nc := client.NetConn(MessageBinary)
	got, err := io.ReadAll(nc)
	if err != nil || string(got) != "hello world" {
		t.Fatalf("ReadAll = %q, %v; want the payloads as one stream ending in io.EOF", got, err)
	}
}

func TestNetConnWrongType(t *testing.T) {
	server, client := acceptedPair(t)
	go server.Write(bg, MessageText, []byte("text"))
	ended := make(chan error, 1)
	go func() {
		_, _, err := server.Read(bg)
		ended <- err
	}()
	if _, err := client.NetConn(MessageBinary).Read(make([]byte, 8)); err == nil {
		t.Fatal("a text message read as binary")
	}
	if err := recvWithin(t, ended, 10*time.Second); CloseStatus(err) != StatusUnsupportedData {
		t.Fatalf("the peer saw %v, want 1003", err)
	}
}

func TestNetConnDeadline(t *testing.T) {
	_, client := acceptedPair(t)
	nc := client.NetConn(MessageBinary)
	nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := nc.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}

func TestAddresses(t *testing.T) {
	server, client := acceptedPair(t)
	if server.RemoteAddr() == nil || client.LocalAddr() == nil ||
		server.RemoteAddr().String() != client.LocalAddr().String() {
		t.Fatalf("server sees %v, client is %v", server.RemoteAddr(), client.LocalAddr())
	}
	if client.RemoteAddr().String() != server.LocalAddr().String() {
		t.Fatalf("client sees %v, server is %v", client.RemoteAddr(), server.LocalAddr())
	}
}

func TestCloseRead(t *testing.T) {
	t.Run("peer closes", func(t *testing.T) {
		server, client := acceptedPair(t)
		ctx := client.CloseRead(bg)
		server.Close(StatusNormalClosure, "")
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("CloseRead's context did not end when the peer closed")
		}
	})
	t.Run("data message", func(t *testing.T) {
		server, client := acceptedPair(t)
		ctx := client.CloseRead(context.Background())
		ended := make(chan error, 1)
		go func() {
			_, _, err := server.Read(bg)
			ended <- err
		}()
		server.Write(bg, MessageText, []byte("unexpected"))
		if err := recvWithin(t, ended, 10*time.Second); CloseStatus(err) != StatusPolicyViolation {
			t.Fatalf("the peer saw %v, want 1008", err)
		}
		<-ctx.Done()
	})
}

func TestNetConnTimeoutIsNetError(t *testing.T) {
	_, client := acceptedPair(t)
	nc := client.NetConn(MessageBinary)
	nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := nc.Read(make([]byte, 8))
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v (%T), want a net.Error whose Timeout is true", err, err)
	}
}
