package redisfanout

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wirecraft/websocket/rooms"
)

// Defaults used when an Options field is left at zero.
const (
	// DefaultPrefix names the pub/sub channel and prefixes the keys.
	DefaultPrefix = "websocket:rooms"
	// DefaultPresenceTTL is how long an instance's presence outlives its
	// last refresh.
	DefaultPresenceTTL = 30 * time.Second
	// DefaultPingInterval is how long a subscription may stay idle before
	// it is pinged, and how long the PING may go unanswered.
	DefaultPingInterval = 5 * time.Second
	// DefaultRetryDelay is the wait between attempts to subscribe again
	// while Redis cannot be reached.
	DefaultRetryDelay = time.Second
)

// closeTimeout bounds Close's removal of the instance's presence. What a
// failed removal leaves expires within PresenceTTL anyway.
const closeTimeout = 5 * time.Second

// Errors a FanOut returns.
var (
	// ErrLinkDown is returned by Publish, SetPresence and Presence while
	// the link is down: nothing is sent, nor kept to be sent later.
	ErrLinkDown = errors.New("redisfanout: link to Redis is down")
	// ErrClosed is returned by a FanOut once Close has been called.
	ErrClosed = errors.New("redisfanout: closed")
	// errNoPong is the cause LinkLost reports for a subscription that
	// stopped answering.
	errNoPong = errors.New("redisfanout: no answer to PING on the subscription")
)

// Options configures a FanOut. Client or Addr is required; a zero field
// otherwise means its default.
type Options struct {
	// Client is the Redis client to use, shared with the application: the
	// FanOut does not close it. A *redis.Client (or a failover client)
	// serves; the subscription takes a connection of its own from it.
	Client redis.UniversalClient
	// Addr is the address of a Redis server, for a client the FanOut makes
	// when Client is nil, and closes in Close.
	Addr string

	// Prefix names the pub/sub channel and starts every key the FanOut
	// writes (DefaultPrefix if empty). Instances link to each other when
	// they share it; different prefixes keep deployments apart on one
	// Redis.
	Prefix string

	// PresenceTTL is how long an instance's presence entries survive it
	// when it stops without Close (DefaultPresenceTTL if zero). The
	// instance refreshes them every third of it. All instances of a prefix
	// should use the same one.
	PresenceTTL time.Duration

	// PingInterval bounds how long a dead subscription can go unnoticed:
	// an idle one is pinged after it, and lost if the answer takes longer
	// than it again (DefaultPingInterval if zero). A connection that Redis
	// closes or resets is noticed at once.
	PingInterval time.Duration

	// RetryDelay is the wait between attempts to subscribe while Redis
	// cannot be reached (DefaultRetryDelay if zero).
	RetryDelay time.Duration
}

// linkState is where a FanOut's subscription stands.
type linkState int

const (
	linkStarting linkState = iota // not yet confirmed, never lost
	linkUp                        // subscribed
	linkDown                      // lost, LinkLost reported
)

// A FanOut is a rooms.FanOut over Redis: pass it to one hub in
// rooms.Options.FanOut, which starts it and closes it. New makes one.
type FanOut struct {
	client    redis.UniversalClient
	ownClient bool
	channel   string
	keys      string // the prefix of every key: "{" + Prefix + "}:"
	ttl       time.Duration
	ping      time.Duration
	retry     time.Duration

	// Set by Start, then read only.
	instance string
	r        rooms.Receiver

	// linkMu orders the changes of state and the receiver calls that
	// report them, so that LinkLost and LinkRestored alternate whichever
	// goroutine notices a change.
	linkMu sync.Mutex
	state  linkState
	// downErr is the error that took the link down, nil while it is not
	// down: Publish reads it without a lock.
	downErr atomic.Pointer[error]

	// mu guards ps and closed. ps is replaced when the link is given up on
	// (a silent connection), and made anew by the receiving goroutine.
	mu     sync.Mutex
	ps     *redis.PubSub
	closed bool
	done   chan struct{} // closed by Close: the goroutines end
	wg     sync.WaitGroup

	// heard is set by every reply on the subscription, so that the
	// pinging goroutine knows it is alive without asking.
	heard atomic.Bool
	// shared is set once a presence entry is written, and cleared when a
	// refresh finds the instance's entries expired: see maintain.
	shared atomic.Bool
}

var _ rooms.FanOut = (*FanOut)(nil)

// New returns a FanOut configured by opts. It does not connect: the hub's
// Start does, and reports a Redis it cannot reach with LinkLost.
func New(opts Options) (*FanOut, error) {
	f := &FanOut{
		client:  opts.Client,
		channel: opts.Prefix,
		ttl:     opts.PresenceTTL,
		ping:    opts.PingInterval,
		retry:   opts.RetryDelay,
		done:    make(chan struct{}),
	}
	if f.client == nil {
		if opts.Addr == "" {
			return nil, errors.New("redisfanout: Options has neither Client nor Addr")
		}
		f.client = redis.NewClient(&redis.Options{Addr: opts.Addr})
		f.ownClient = true
	}
	if f.channel == "" {
		f.channel = DefaultPrefix
	}
	f.keys = "{" + f.channel + "}:"
	if f.ttl <= 0 {
		f.ttl = DefaultPresenceTTL
	}
	if f.ttl < 3*time.Millisecond {
		// Redis counts a TTL in milliseconds, and the refresh runs every
		// third of it.
		return nil, fmt.Errorf("redisfanout: PresenceTTL %v is under 3ms", f.ttl)
	}
	if f.ping <= 0 {
		f.ping = DefaultPingInterval
	}
	if f.retry <= 0 {
		f.retry = DefaultRetryDelay
	}
	return f, nil
}

// Start subscribes to the channel and starts the goroutines that receive
// messages, ping the subscription and refresh presence. It does not wait
// for Redis: a subscription that fails is reported to r with LinkLost, and
// the first one that succeeds is not reported.
func (f *FanOut) Start(instance string, r rooms.Receiver) {
	// A presence field is the instance and the user joined by '|', split
	// at the first one: an instance id must not contain it. The hub's ids
	// are hexadecimal; any other is encoded so.
	if strings.Contains(instance, "|") {
		instance = hex.EncodeToString([]byte(instance))
	}
	f.instance = instance
	f.r = r
	f.wg.Add(2)
	go f.receive()
	go f.maintain()
}

// Publish sends msg on the channel with PUBLISH. It returns ErrLinkDown
// without trying while the link is down, and the error of PUBLISH if it
// fails. A nil error means Redis took the message, not that any instance
// got it.
func (f *FanOut) Publish(ctx context.Context, msg []byte) error {
	if err := f.usable(); err != nil {
		return err
	}
	if err := f.client.Publish(ctx, f.channel, msg).Err(); err != nil {
		return fmt.Errorf("redisfanout: publish: %w", err)
	}
	return nil
}

// SetPresence records that this instance has conns connections of user in
// room; 0 deletes the entry. It also marks the instance alive for
// PresenceTTL, so that its entry is never older than its liveness. While
// the link is down it returns ErrLinkDown without trying: the hub writes
// its presence again when the link is back.
func (f *FanOut) SetPresence(ctx context.Context, room, user string, conns int) error {
	if err := f.usable(); err != nil {
		return err
	}
	err := setScript.Run(ctx, f.client,
		[]string{f.roomKey(room), f.roomsKey(), f.aliveKey()},
		f.instance+"|"+user, conns, f.ttl.Milliseconds(), room).Err()
	if err != nil {
		return fmt.Errorf("redisfanout: recording presence: %w", err)
	}
	if conns > 0 {
		f.shared.Store(true)
	}
	return nil
}

// Presence returns the connections each user has in room on the other
// live instances. Entries of instances that are no longer alive are
// ignored, and deleted on the way. While the link is down it returns
// ErrLinkDown without trying.
func (f *FanOut) Presence(ctx context.Context, room string) (map[string]int, error) {
	if err := f.usable(); err != nil {
		return nil, err
	}
	pairs, err := presenceScript.Run(ctx, f.client,
		[]string{f.roomKey(room)}, f.keys+"instance:", f.instance).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redisfanout: reading presence: %w", err)
	}
	conns := make(map[string]int, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		n, err := strconv.Atoi(pairs[i+1])
		if err != nil {
			// Written by something other than this package.
			continue
		}
		conns[pairs[i]] += n
	}
	return conns, nil
}

// Close deletes this instance's presence entries, stops the goroutines,
// so that the receiver is not called once Close has returned, and closes
// the client if New made it. It returns the error of the deletion, whose
// leftovers expire within PresenceTTL.
func (f *FanOut) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	f.closed = true
	ps := f.ps
	f.ps = nil
	close(f.done)
	f.mu.Unlock()
	if ps != nil {
		// Ends the receiving goroutine's read.
		ps.Close()
	}
	f.wg.Wait()

	var err error
	if f.r != nil { // started: there may be entries
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		err = closeScript.Run(ctx, f.client,
			[]string{f.aliveKey(), f.roomsKey()}, f.keys+"presence:", f.instance+"|").Err()
		cancel()
		if err != nil {
			err = fmt.Errorf("redisfanout: removing presence: %w", err)
		}
	}
	if f.ownClient {
		if cerr := f.client.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// receive reads the subscription and hands what comes to the receiver,
// until Close. go-redis makes a new connection, and subscribes on it
// again, when a read fails; the confirmation of that subscription is what
// reports the link restored.
func (f *FanOut) receive() {
	defer f.wg.Done()
	ctx := context.Background()
	for {
		ps := f.pubSub()
		if ps == nil {
			return
		}
		// No deadline: an idle subscription is checked by maintain, whose
		// PING answers come through here.
		v, err := ps.Receive(ctx)
		if err != nil {
			if f.isClosed() {
				return
			}
			f.lost(err)
			select {
			case <-f.done:
				return
			case <-time.After(f.retry):
			}
			continue
		}
		f.heard.Store(true)
		switch m := v.(type) {
		case *redis.Message:
			if m.Channel == f.channel {
				f.r.Receive([]byte(m.Payload))
			}
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == f.channel {
				f.restored()
			}
		}
	}
}

// pubSub returns the subscription, making it if maintain gave the last
// one up, or nil once the FanOut is closed.
func (f *FanOut) pubSub() *redis.PubSub {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	ps := f.ps
	if ps != nil {
		f.mu.Unlock()
		return ps
	}
	// An empty PubSub does not connect, so making it under mu is quick.
	ps = f.client.Subscribe(context.Background())
	f.ps = ps
	f.mu.Unlock()
	// Subscribe records the channel even when it cannot connect, and
	// Receive connects and subscribes again, so its error is Receive's to
	// report.
	_ = ps.Subscribe(context.Background(), f.channel)
	return ps
}

// maintain pings an idle subscription, gives up one that stopped
// answering, and refreshes the instance's presence, until Close.
func (f *FanOut) maintain() {
	defer f.wg.Done()
	pingTicker := time.NewTicker(f.ping)
	defer pingTicker.Stop()
	refreshTicker := time.NewTicker(f.ttl / 3)
	defer refreshTicker.Stop()
	// silent counts the ticks since anything came on the subscription.
	silent := 0
	for {
		select {
		case <-f.done:
			return
		case <-pingTicker.C:
			if f.heard.Swap(false) {
				silent = 0
				continue
			}
			silent++
			if silent >= 2 {
				// Nothing came for a whole interval after the PING, or
				// after a new connection was asked to subscribe: it is
				// cut without a reset, or Redis hangs. Only a new
				// connection can tell, since go-redis keeps one whose
				// reads time out.
				silent = 0
				f.lost(errNoPong)
				f.dropPubSub()
				continue
			}
			f.linkMu.Lock()
			up := f.state == linkUp
			f.linkMu.Unlock()
			if ps := f.currentPubSub(); up && ps != nil {
				ctx, cancel := context.WithTimeout(context.Background(), f.ping)
				// A failed write makes go-redis reconnect, which the
				// receiving goroutine notices; a silent connection is
				// left to the next tick. While the link is not up, the
				// receiving goroutine is connecting, and the next tick
				// sees whether it got anywhere.
				_ = ps.Ping(ctx)
				cancel()
			}
		case <-refreshTicker.C:
			f.refresh()
		}
	}
}

// refresh extends the TTL of the instance's keys. If they had expired
// while the link was up (the process stalled for longer than the TTL, or
// Redis evicted them), other instances have stopped counting this one's
// entries: the receiver is told the link is restored, which makes the hub
// write them all again.
func (f *FanOut) refresh() {
	f.linkMu.Lock()
	down := f.state == linkDown
	f.linkMu.Unlock()
	if down {
		// The hub writes all its presence when the link is back, which
		// marks the instance alive again. Trying meanwhile would only add
		// to go-redis's count of failed dials, which past the pool's size
		// refuses every dial, for up to a second after Redis is back.
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.ttl/3)
	defer cancel()
	alive, err := refreshScript.Run(ctx, f.client,
		[]string{f.aliveKey(), f.roomsKey()}, f.ttl.Milliseconds(), f.keys+"presence:").Int()
	if err != nil || alive == 1 || !f.shared.Swap(false) {
		// A failed refresh is retried at the next tick; a lost link
		// rewrites presence when it is back.
		return
	}
	f.linkMu.Lock()
	defer f.linkMu.Unlock()
	if f.state == linkUp && !f.isClosed() {
		f.r.LinkRestored()
	}
}

// currentPubSub returns the subscription, or nil if there is none now.
func (f *FanOut) currentPubSub() *redis.PubSub {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ps
}

// dropPubSub closes the subscription, for the receiving goroutine to make
// a new one on a new connection.
func (f *FanOut) dropPubSub() {
	f.mu.Lock()
	ps := f.ps
	f.ps = nil
	f.mu.Unlock()
	if ps != nil {
		ps.Close()
	}
}

// lost reports the link down, unless it is already.
func (f *FanOut) lost(err error) {
	f.linkMu.Lock()
	defer f.linkMu.Unlock()
	if f.state == linkDown {
		return
	}
	f.state = linkDown
	f.downErr.Store(&err)
	f.r.LinkLost(err)
}

// restored reports the link back, if it was down: the first subscription
// of a link that was never lost is not reported.
func (f *FanOut) restored() {
	f.linkMu.Lock()
	defer f.linkMu.Unlock()
	was := f.state
	f.state = linkUp
	f.downErr.Store(nil)
	if was == linkDown {
		f.r.LinkRestored()
	}
}

// usable returns ErrLinkDown, with the cause, while the link is down, and
// ErrClosed once the FanOut is closed. The methods that talk to Redis
// check it first: during an outage they fail at once instead of each
// waiting for go-redis's dial attempts and retries, and nothing is lost by
// it, since the hub writes its presence again when the link is back and
// nothing is resent anyway.
func (f *FanOut) usable() error {
	if err := f.downErr.Load(); err != nil {
		return fmt.Errorf("%w: %w", ErrLinkDown, *err)
	}
	if f.isClosed() {
		return ErrClosed
	}
	return nil
}

func (f *FanOut) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// roomKey is the hash of room's presence over all instances.
func (f *FanOut) roomKey(room string) string { return f.keys + "presence:" + room }

// roomsKey is the hash of the rooms this instance has entries in.
func (f *FanOut) roomsKey() string { return f.keys + "rooms:" + f.instance }

// aliveKey exists while this instance is alive.
func (f *FanOut) aliveKey() string { return f.keys + "instance:" + f.instance }
