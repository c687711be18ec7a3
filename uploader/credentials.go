package uploader

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"
)

// Credentials say where a run finds its API token, in this order: a token
// file (--token-file), XANDR_TOKEN, or a login with XANDR_USERNAME and
// XANDR_PASSWORD at {API}/auth.
type Credentials struct {
	TokenFile string
	// Getenv reads the environment (os.Getenv in a real run).
	Getenv func(string) string
	// API is the API's base URL, where logins go.
	API string
	// Timeout bounds one login call.
	Timeout time.Duration
}

// NoCredentialsError is a run that found no credentials anywhere.
type NoCredentialsError struct{}

func (NoCredentialsError) Error() string { return "no credentials" }

// Hint says where credentials can come from.
func (NoCredentialsError) Hint() string {
	return "set XANDR_TOKEN, pass --token-file, or set XANDR_USERNAME and XANDR_PASSWORD (try 'rtseg demo' to see rtseg work without any)"
}

// Auth returns the first credentials found.
func (c Credentials) Auth() (Auth, error) {
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return nil, fmt.Errorf("--token-file %s: the file is empty", c.TokenFile)
		}
		return staticToken("--token-file "+c.TokenFile, t)
	}
	if t := strings.TrimSpace(c.Getenv("XANDR_TOKEN")); t != "" {
		return staticToken("XANDR_TOKEN", t)
	}
	user, pass := c.Getenv("XANDR_USERNAME"), c.Getenv("XANDR_PASSWORD")
	if user == "" || pass == "" {
		return nil, NoCredentialsError{}
	}
	authURL, err := url.JoinPath(c.API, "auth")
	if err != nil {
		return nil, fmt.Errorf("--api %q: %w", c.API, err)
	}
	if err := CheckEndpoint(authURL); err != nil {
		return nil, err
	}
	return &Login{URL: authURL, Username: user, Password: NewSecret(pass), Timeout: c.Timeout}, nil
}

// staticToken is a token given by the user, if it can be sent: a line break
// or another control character inside it is a *TokenError naming source.
func staticToken(source, token string) (Auth, error) {
	if i, r, ok := controlChar(token); ok {
		return nil, &TokenError{Source: source, Char: r, At: i}
	}
	return StaticToken{Value: NewSecret(token)}, nil
}

// controlChar finds the first control character in s: its position,
// counting characters from 1, and the character.
func controlChar(s string) (int, rune, bool) {
	n := 0
	for _, r := range s {
		n++
		if unicode.IsControl(r) {
			return n, r, true
		}
	}
	return 0, 0, false
}

// TokenError is a token given by the user that no Authorization header can
// carry: it holds a line break or another control character. It names the
// character and where it is, never the token.
type TokenError struct {
	Source string // where the token came from: "XANDR_TOKEN", "--token-file PATH"
	Char   rune   // the first control character
	At     int    // its position in the token, counting characters from 1
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("%s: the token holds a control character (%q at character %d), which cannot be sent in an Authorization header", e.Source, e.Char, e.At)
}

// Hint says what a token looks like.
func (e *TokenError) Hint() string {
	return "a token is one line of printable characters; check that it holds the token alone, as the API returned it"
}
