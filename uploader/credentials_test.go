package uploader

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("from-file\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	twoLines := filepath.Join(dir, "two-lines")
	os.WriteFile(twoLines, []byte("hbapi:s3cr3t\nhbapi:other\r\n"), 0o600)
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		name  string
		creds Credentials
		token string // a static token's value
		login string // a login's URL
		err   string
	}{
		{"token file first", Credentials{TokenFile: tokenFile, Getenv: env("XANDR_TOKEN", "from-env")}, "from-file", "", ""},
		{"XANDR_TOKEN", Credentials{Getenv: env("XANDR_TOKEN", " from-env ", "XANDR_USERNAME", "u", "XANDR_PASSWORD", "p")}, "from-env", "", ""},
		{"login", Credentials{API: "https://api.example", Getenv: env("XANDR_USERNAME", "u", "XANDR_PASSWORD", "p")}, "", "https://api.example/auth", ""},
		{"login over plain http elsewhere", Credentials{API: "http://api.example", Getenv: env("XANDR_USERNAME", "u", "XANDR_PASSWORD", "p")}, "", "", "plain http:// is refused"},
		{"empty token file", Credentials{TokenFile: empty, Getenv: env()}, "", "", "the file is empty"},
		{"missing token file", Credentials{TokenFile: filepath.Join(dir, "none"), Getenv: env()}, "", "", "--token-file: "},
		{"a token file of two lines", Credentials{TokenFile: twoLines, Getenv: env()}, "", "",
			`--token-file ` + twoLines + `: the token holds a control character ('\n' at character 13), which cannot be sent in an Authorization header`},
		{"a token with a control character", Credentials{Getenv: env("XANDR_TOKEN", "hbapi:s3\x07cr3t\n")}, "", "",
			`XANDR_TOKEN: the token holds a control character ('\a' at character 9), which cannot be sent in an Authorization header`},
		{"a token with DEL", Credentials{Getenv: env("XANDR_TOKEN", "s3cr3t\x7f")}, "", "", `('\x7f' at character 7)`},
		{"a username without a password", Credentials{Getenv: env("XANDR_USERNAME", "u")}, "", "", "no credentials"},
	} {
		auth, err := tc.creds.Auth()
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: Auth() error = %v, want one saying %q", tc.name, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "cr3t") {
				t.Errorf("%s: Auth() error = %v shows the token", tc.name, err)
			}
		case err != nil:
			t.Errorf("%s: Auth() = %v", tc.name, err)
		case tc.token != "":
			got, _ := auth.Token(context.Background())
			if got.Reveal() != tc.token {
				t.Errorf("%s: token %q, want %q", tc.name, got.Reveal(), tc.token)
			}
		default:
			if l, ok := auth.(*Login); !ok || l.URL != tc.login || l.Username != "u" {
				t.Errorf("%s: Auth() = %#v, want a login at %s", tc.name, auth, tc.login)
			}
		}
	}
	_, err := Credentials{Getenv: env()}.Auth()
	var none NoCredentialsError
	if !errors.As(err, &none) || none.Hint() == "" {
		t.Errorf("no credentials: Auth() = %v, want a NoCredentialsError with a hint", err)
	}
}
