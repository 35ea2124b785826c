package main

import (
	"sync"
	"time"
)

// recentIDs remembers the message ids the server has accepted lately, per
// user, so that a message resent after a lost acknowledgement is
// acknowledged again but not shown twice.
//
// The window is bounded both in time (ttl) and in size (max), so memory
// does not grow with traffic. A resend that comes after its id has left
// the window would be shown again: the window has to be longer than a
// client keeps retrying, which for the page is as long as it stays open
// and reconnects within minutes.
//
// The window lives in this process. With several instances (-redis), a
// client that reconnects to another instance and resends is not
// recognised there; a shared window (a Redis SET with NX and a TTL per
// id) would close that gap.
type recentIDs struct {
	ttl time.Duration
	max int

	mu   sync.Mutex
	seen map[idKey]struct{}
	// order holds the ids in the order they were accepted, oldest first,
	// from index head on; the entries before head have been forgotten.
	order []idEntry
	head  int
}

type idKey struct{ user, id string }

type idEntry struct {
	key idKey
	at  time.Time
}

func newRecentIDs(ttl time.Duration, max int) *recentIDs {
	return &recentIDs{ttl: ttl, max: max, seen: make(map[idKey]struct{})}
}

// firstTime records (user, id) and reports whether it was new.
func (r *recentIDs) firstTime(user, id string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The expired ids, and the oldest when the window is full, are at
	// the front.
	for r.head < len(r.order) && (now.Sub(r.order[r.head].at) > r.ttl || len(r.order)-r.head >= r.max) {
		delete(r.seen, r.order[r.head].key)
		r.order[r.head] = idEntry{}
		r.head++
	}
	// Once half the slice is forgotten entries, move the rest down: each
	// entry is moved a bounded number of times on average, and the slice
	// does not creep forward through ever new arrays.
	if r.head > len(r.order)/2 {
		r.order = r.order[:copy(r.order, r.order[r.head:])]
		r.head = 0
	}
	k := idKey{user, id}
	if _, dup := r.seen[k]; dup {
		return false
	}
	r.seen[k] = struct{}{}
	r.order = append(r.order, idEntry{k, now})
	return true
}
