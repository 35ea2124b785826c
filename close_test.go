package websocket

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The close codes a peer may send, after RFC 6455 §7.4, and the reply each
// gets: the same code when valid, 1002 otherwise. The list follows
// Autobahn's cases 7.7.x and 7.9.x, plus the IANA-registered 1012–1014.
func TestCloseCodeValidity(t *testing.T) {
	valid := []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}
	invalid := []int{0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}
	for _, code := range valid {
		if !StatusCode(code).validOnWire() {
			t.Errorf("%d should be valid", code)
		}
	}
	for _, code := range invalid {
		if StatusCode(code).validOnWire() {
			t.Errorf("%d should be invalid", code)
		}
	}
}

func TestParseClosePayload(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    *CloseError
		wantErr error
	}{
		{"empty", "", &CloseError{Code: StatusNoStatusReceived}, nil},
		{"one byte", "\x03", nil, ErrProtocol},
		{"1000 without reason", "\x03\xe8", &CloseError{Code: 1000}, nil},
		{"1000 with reason", "\x03\xe8bye", &CloseError{Code: 1000, Reason: "bye"}, nil},
		{"4999 with UTF-8 reason", "\x13\x87\u2713", &CloseError{Code: 4999, Reason: "\u2713"}, nil},
		{"code 1005", "\x03\xed", nil, ErrProtocol},
		{"code 999", "\x03\xe7", nil, ErrProtocol},
		{"code 5000", "\x13\x88", nil, ErrProtocol},
		{"invalid UTF-8 reason", "\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80", nil, ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseClosePayload([]byte(tt.payload))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.want != nil && *got != *tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheckLocalClose(t *testing.T) {
	tests := []struct {
		code   StatusCode
		reason string
		ok     bool
	}{
		{StatusNormalClosure, "", true},
		{StatusGoingAway, strings.Repeat("r", 123), true},
		{StatusGoingAway, strings.Repeat("r", 124), false},
		{4000, "application code", true},
		{StatusNoStatusReceived, "", false},
		{StatusAbnormalClosure, "", false},
		{StatusTLSHandshake, "", false},
		{StatusNormalClosure, "\xff", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d", tt.code, len(tt.reason)), func(t *testing.T) {
			if err := checkLocalClose(tt.code, tt.reason); (err == nil) != tt.ok {
				t.Errorf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestCloseErrorHelpers(t *testing.T) {
	err := fmt.Errorf("reading: %w", &CloseError{Code: StatusGoingAway, Reason: "restart"})
	if got := CloseStatus(err); got != StatusGoingAway {
		t.Errorf("CloseStatus = %v", got)
	}
	if got := CloseStatus(errors.New("other")); got != -1 {
		t.Errorf("CloseStatus of another error = %v, want -1", got)
	}
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Reason != "restart" {
		t.Errorf("errors.As failed: %v", ce)
	}
	if s := StatusMessageTooBig.String(); s != "1009 (message too big)" {
		t.Errorf("String = %q", s)
	}
}
