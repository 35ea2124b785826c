package fuzzer

import "testing"

func code(c int) *int { return &c }

func TestJudgeClose(t *testing.T) {
	fuzzerCase := &Case{Close: fuzzerCloses()}
	testeeCase := &Case{Close: testeeCloses(1002)}
	tests := []struct {
		name     string
		c        *Case
		opened   bool
		isServer bool
		o        ConnOutcome
		want     string
	}{
		{"handshake failed", fuzzerCase, false, false, ConnOutcome{}, Failed},
		{"clean 1000", fuzzerCase, true, false, ConnOutcome{ClosedByMe: true, WasClean: true, RemoteCloseCode: code(1000)}, OK},
		{"wrong closer", fuzzerCase, true, false, ConnOutcome{ClosedByMe: false, WasClean: true}, Failed},
		{"unclean", fuzzerCase, true, false, ConnOutcome{ClosedByMe: true, WasClean: false}, Unclean},
		{"wrong code", fuzzerCase, true, false, ConnOutcome{ClosedByMe: true, WasClean: true, RemoteCloseCode: code(1011)}, WrongCode},
		{"no code is never wrong", fuzzerCase, true, false, ConnOutcome{ClosedByMe: true, WasClean: true}, OK},
		{"client dropped TCP", fuzzerCase, true, false, ConnOutcome{ClosedByMe: true, WasClean: true, DroppedByMe: true}, FailedByPeer},
		{"server drops TCP by design", fuzzerCase, true, true, ConnOutcome{ClosedByMe: true, WasClean: true, DroppedByMe: true}, OK},
		{"testee drops TCP, no clean needed", testeeCase, true, false, ConnOutcome{}, OK},
		{"testee closes 1002", testeeCase, true, false, ConnOutcome{WasClean: true, RemoteCloseCode: code(1002)}, OK},
		{"testee closes 1007", testeeCase, true, false, ConnOutcome{WasClean: true, RemoteCloseCode: code(1007)}, WrongCode},
		{"fuzzer had to fail", testeeCase, true, false, ConnOutcome{ClosedByMe: true, FailedByMe: true}, Failed},
	}
	for _, tt := range tests {
		if got, _ := judgeClose(tt.c, tt.opened, tt.isServer, tt.o); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestJudge(t *testing.T) {
	hello := msgText("Hello")
	echo := &Case{Expected: ok(hello), Close: fuzzerCloses()}
	strict := &Case{Expected: okOrNonStrict([]Event{hello}, []Event{}), Close: testeeCloses(1002)}
	utf8Bad := &Case{Expected: ok(), Close: ExpectedClose{Codes: []int{1007}, WrongCloserFatal: true}}
	closeCase := ByID("7.3.3")
	info := ByID("7.13.1")
	clean := ConnOutcome{ClosedByMe: true, WasClean: true, RemoteCloseCode: code(1000)}
	tests := []struct {
		name     string
		c        *Case
		received []Event
		o        ConnOutcome
		b, bc    string
	}{
		{"echo matches", echo, []Event{hello}, clean, OK, OK},
		{"echo missing", echo, nil, clean, Failed, OK},
		{"extra pong", echo, []Event{hello, pongOf("")}, clean, Failed, OK},
		{"binary instead of text", echo, []Event{Message([]byte("Hello"), true)}, clean, Failed, OK},
		{"echo then fail", strict, []Event{hello}, ConnOutcome{WasClean: true, RemoteCloseCode: code(1002)}, OK, OK},
		{"fail before echo", strict, []Event{}, ConnOutcome{WasClean: true, RemoteCloseCode: code(1002)}, NonStrict, OK},
		{"invalid utf-8 accepted", utf8Bad, []Event{}, ConnOutcome{ClosedByMe: true, FailedByMe: true}, Failed, Failed},
		{"invalid utf-8 wrong code", utf8Bad, []Event{}, ConnOutcome{WasClean: true, RemoteCloseCode: code(1002)}, OK, WrongCode},
		{"7.x wrong code fails", closeCase, nil, ConnOutcome{ClosedByMe: true, WasClean: true, RemoteCloseCode: code(1011)}, Failed, WrongCode},
		{"7.13 informational", info, nil, ConnOutcome{ClosedByMe: true, WasClean: true, RemoteCloseCode: code(1002)}, Informational, Informational},
	}
	for _, tt := range tests {
		b, bc, _, _ := judge(tt.c, true, false, tt.received, tt.o, nil, nil)
		if b != tt.b || bc != tt.bc {
			t.Errorf("%s: got %s/%s, want %s/%s", tt.name, b, bc, tt.b, tt.bc)
		}
	}
}

func TestDriverVerdicts(t *testing.T) {
	d := &singleEcho{binary: true, length: 3}
	if b, _ := d.Verdict(nil); b != Failed {
		t.Errorf("no echo: %s", b)
	}
	d = &singleEcho{binary: true, length: 3, decided: true, behavior: OK}
	if b, _ := d.Verdict(nil); b != OK {
		t.Errorf("echo: %s", b)
	}
	l := &deflateLoop{unimplemented: true}
	if b, _ := l.Verdict(nil); b != Unimplemented {
		t.Errorf("no deflate: %s", b)
	}
}

func TestPassed(t *testing.T) {
	tests := []struct {
		id, b, bc string
		want      bool
	}{
		{"1.1.1", OK, OK, true},
		{"1.1.1", OK, Informational, true},
		{"1.1.1", NonStrict, OK, false},
		{"12.1.1", Unimplemented, OK, false},
		{"7.13.1", Informational, Informational, true},
		{"2.1", Informational, OK, false},
		{"3.1", OK, Failed, false},
		{"7.1.1", OK, WrongCode, false},
	}
	for _, tt := range tests {
		if got := Passed(tt.id, tt.b, tt.bc); got != tt.want {
			t.Errorf("Passed(%s, %s, %s) = %v", tt.id, tt.b, tt.bc, got)
		}
	}
	entries := map[string]IndexEntry{
		"1.1.1": {Behavior: OK, BehaviorClose: OK}, "12.1.1": {Behavior: Unimplemented, BehaviorClose: OK},
		"6.3.1": {Behavior: Failed, BehaviorClose: Failed},
	}
	if m := Misses(entries, []string{"12.*", "13.*"}); len(m) != 1 || m[0] != "6.3.1" {
		t.Errorf("Misses = %v", m)
	}
}
