package uploader

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtseg/rtseg/uploader/xandrtest"
)

func newLogin(rt http.RoundTripper, password string) *Login {
	return &Login{URL: "https://api.example/auth", Username: "ops", Password: NewSecret(password), Client: &http.Client{Transport: rt}}
}

// However many workers find the token refused at once, one logs in.
func TestLoginRenewsOnceForAllWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := xandrtest.NewHandler(xandrtest.WithCredentials("ops", "hunter2"))
		l := newLogin(handlerTransport{emu}, "hunter2")
		stale, err := l.Token(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		var wg sync.WaitGroup
		tokens := make([]Secret, 8)
		for i := range tokens {
			wg.Go(func() {
				tok, err := l.Renew(t.Context(), stale)
				if err != nil {
					t.Error(err)
				}
				tokens[i] = tok
			})
		}
		wg.Wait()
		for _, tok := range tokens {
			if tok == stale || tok != tokens[0] {
				t.Fatalf("workers got tokens %v, want one new token for all", tokens)
			}
		}
		if n := emu.Stats().Logins; n != 2 {
			t.Errorf("%d logins, want 2 (the first and one renewal)", n)
		}
	})
}

func TestLoginRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := xandrtest.NewHandler(xandrtest.WithCredentials("ops", "hunter2"))
		l := newLogin(handlerTransport{emu}, "wrong-password")
		for range 3 {
			_, err := l.Token(t.Context())
			var ae *AuthError
			if !errors.Is(err, ErrAuthRefused) || !errors.As(err, &ae) {
				t.Fatalf("Token with a wrong password = %v, want an AuthError", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, `log in as "ops"`) || !strings.Contains(msg, xandrtest.MsgBadLogin) || strings.Contains(msg, "wrong-password") {
				t.Errorf("error %q: want the user and the service's message, never the password", msg)
			}
			if !strings.Contains(ae.Hint(), "XANDR_PASSWORD") {
				t.Errorf("hint %q does not say what to check", ae.Hint())
			}
		}
		if n := emu.Stats().LoginsRefused; n != 1 {
			t.Errorf("%d refused logins, want 1: a refusal is final", n)
		}
	})
}

// Over the API's login limit, the client waits as told instead of trying
// again and again.
func TestLoginThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := xandrtest.NewHandler(xandrtest.WithCredentials("ops", "hunter2"), xandrtest.WithLoginLimit(1, 5*time.Minute))
		l := newLogin(handlerTransport{emu}, "hunter2")
		stale, err := l.Token(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		for range 5 {
			_, err = l.Renew(t.Context(), stale)
			var lu *LoginUnavailableError
			if !errors.As(err, &lu) || errors.Is(err, ErrAuthRefused) {
				t.Fatalf("Renew over the login limit = %v, want a *LoginUnavailableError", err)
			}
		}
		if w := retryWait(err); w < 3*time.Minute || w > 4*time.Minute {
			t.Errorf("wait %v, want about the 4 minutes left of the login window", w)
		}
		if s := emu.Stats(); s.LoginsThrottled != 1 {
			t.Errorf("%d logins throttled, want 1: the others wait", s.LoginsThrottled)
		}
		time.Sleep(retryWait(err))
		if _, err := l.Renew(t.Context(), stale); err != nil {
			t.Errorf("Renew after the wait = %v", err)
		}
	})
}

// A token refused just after it was issued will not be taken after another
// login either: the run ends rather than logging in again and again.
func TestLoginFreshTokenRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := xandrtest.NewHandler(xandrtest.WithCredentials("ops", "hunter2"))
		l := newLogin(handlerTransport{emu}, "hunter2")
		tok, _ := l.Token(t.Context())
		time.Sleep(100 * time.Millisecond)
		if _, err := l.Renew(t.Context(), tok); !errors.Is(err, ErrAuthRefused) {
			t.Fatalf("Renew of a token refused 100ms after login = %v, want ErrAuthRefused", err)
		}
		if n := emu.Stats().Logins; n != 1 {
			t.Errorf("%d logins, want 1", n)
		}
	})
}

func TestLoginNetworkErrorCoolsOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := &script{answers: []answer{{err: syscall.ECONNREFUSED}, {err: syscall.ECONNREFUSED}, {status: 200, body: `{"response":{"status":"OK","token":"t1"}}`}}}
		l := newLogin(sc, "hunter2")
		for range 3 {
			if _, err := l.Token(t.Context()); err == nil || errors.Is(err, ErrAuthRefused) {
				t.Fatalf("Token with the API down = %v, want a temporary error", err)
			}
		}
		if sc.count() != 1 {
			t.Fatalf("%d login calls, want 1 before the cooling-off ends", sc.count())
		}
		time.Sleep(time.Second)
		l.Token(t.Context())
		time.Sleep(2 * time.Second)
		tok, err := l.Token(t.Context())
		if err != nil || tok.Reveal() != "t1" || sc.count() != 3 {
			t.Errorf("Token after cooling off = %v, %v after %d calls; want t1 after 3", tok.Reveal(), err, sc.count())
		}
	})
}

// A token no header can carry, issued by the API, ends the run.
func TestLoginTokenWithControlCharacter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := &script{answers: []answer{{status: 200, body: `{"response":{"status":"OK","token":"hbapi:s3cr3t\nmore"}}`}}}
		_, err := newLogin(sc, "hunter2").Token(t.Context())
		if !errors.Is(err, ErrAuthRefused) || !strings.Contains(err.Error(), `issued a token holding a control character ('\n')`) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Token = %v, want authentication refused for a token no header can carry, without the token", err)
		}
	})
}
