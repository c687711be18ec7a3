package uploader

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
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
		return StaticToken{Value: NewSecret(t)}, nil
	}
	if t := strings.TrimSpace(c.Getenv("XANDR_TOKEN")); t != "" {
		return StaticToken{Value: NewSecret(t)}, nil
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
