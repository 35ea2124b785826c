package main

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
)

// tokens maps the access tokens the server accepts to the users they
// belong to. A real service would check a session or a signed token
// instead; what matters here is where the check happens: before the
// upgrade, as plain HTTP.
type tokens map[string]string

// parseTokens reads a list such as "ann:tokA,bob:tokB".
func parseTokens(list string) (tokens, error) {
	t := make(tokens)
	for _, pair := range strings.Split(list, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		user, token, ok := strings.Cut(pair, ":")
		user, token = cleanName(user, maxNameRunes), strings.TrimSpace(token)
		if !ok || user == "" || token == "" {
			return nil, fmt.Errorf("token list: %q is not user:token", pair)
		}
		if _, dup := t[token]; dup {
			return nil, fmt.Errorf("token list: token of %q given twice", user)
		}
		t[token] = user
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("token list: no tokens")
	}
	return t, nil
}

// lookup returns the user a token belongs to. It compares the token with
// every known one in constant time rather than looking it up in the map,
// so the time it takes does not tell an attacker how much of a guess was
// right.
func (t tokens) lookup(token string) (user string, ok bool) {
	for known, u := range t {
		if subtle.ConstantTimeCompare([]byte(known), []byte(token)) == 1 {
			user, ok = u, true
		}
	}
	return user, ok
}

// requestToken finds the token of a request: in the query (?token=),
// in the chat_token cookie, or in an "Authorization: Bearer" header.
// Browsers cannot set headers on a WebSocket handshake, which is why the
// query and the cookie are there; the header serves other clients.
func requestToken(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	if c, err := r.Cookie("chat_token"); err == nil && c.Value != "" {
		return c.Value
	}
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

type userKey struct{}

// userOf returns the user requireUser put in the context.
func userOf(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}

// requireUser lets a request through to next only with a valid token,
// and puts its user in the request's context. It answers 401 when there
// is no token and 403 when the token is unknown, as plain HTTP: a
// WebSocket request is refused before it is upgraded, so a refused client
// never holds a connection, and nothing of the chat runs for it.
func requireUser(t tokens, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := requestToken(r)
		if token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chat"`)
			http.Error(w, "a token is needed: ?token=...", http.StatusUnauthorized)
			return
		}
		user, ok := t.lookup(token)
		if !ok {
			http.Error(w, "unknown token", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, user)))
	})
}
