package uploader

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// ErrAuthRefused ends a run: the service refused our credentials, or a fixed
// token expired and there is no way to log in again.
var ErrAuthRefused = errors.New("authentication refused")

// Auth supplies the token for each call and renews it when the service says
// it is no longer valid.
type Auth interface {
	// Token returns the token to send.
	Token(ctx context.Context) (Secret, error)
	// Renew is called when stale was refused; it returns a token to retry
	// with, logging in at most once however many workers ask.
	Renew(ctx context.Context, stale Secret) (Secret, error)
}

// StaticToken is a token given by the user (XANDR_TOKEN or --token-file). It
// cannot be renewed.
type StaticToken struct{ Value Secret }

func (s StaticToken) Token(context.Context) (Secret, error) { return s.Value, nil }

func (s StaticToken) Renew(context.Context, Secret) (Secret, error) {
	return Secret{}, fmt.Errorf("%w: the token was refused (expired?); give a new XANDR_TOKEN or log in with XANDR_USERNAME and XANDR_PASSWORD", ErrAuthRefused)
}

// Login logs in at {api}/auth with a username and password, once at first use
// and again only when a token is refused: never in a storm, since the API
// allows 10 logins per 5 minutes.
type Login struct {
	URL      string // the auth endpoint, {api}/auth
	Username string
	Password Secret
	Client   *http.Client

	mu    sync.Mutex
	token Secret
}

func (l *Login) Token(ctx context.Context) (Secret, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.token.Empty() {
		return l.login(ctx)
	}
	return l.token, nil
}

func (l *Login) Renew(ctx context.Context, stale Secret) (Secret, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.token != stale && !l.token.Empty() {
		return l.token, nil // another worker has logged in already
	}
	return l.login(ctx)
}

// login must be called with l.mu held.
func (l *Login) login(ctx context.Context) (Secret, error) {
	var body struct {
		Auth struct {
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"auth"`
	}
	body.Auth.Username, body.Auth.Password = l.Username, l.Password.Reveal()
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.URL, bytes.NewReader(b))
	if err != nil {
		return Secret{}, fmt.Errorf("log in: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := l.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Secret{}, fmt.Errorf("log in at %s: %w", l.URL, err)
	}
	defer resp.Body.Close()
	var out struct {
		Response struct {
			Status  string `json:"status"`
			Token   string `json:"token"`
			ErrorID string `json:"error_id"`
			Error   string `json:"error"`
		} `json:"response"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return Secret{}, fmt.Errorf("log in at %s: HTTP %d with an unreadable answer", l.URL, resp.StatusCode)
	}
	r := out.Response
	if resp.StatusCode != http.StatusOK || r.Status != "OK" || r.Token == "" {
		return Secret{}, fmt.Errorf("%w: log in as %q: HTTP %d %s %s", ErrAuthRefused, l.Username, resp.StatusCode, r.ErrorID, r.Error)
	}
	l.token = NewSecret(r.Token)
	return l.token, nil
}
