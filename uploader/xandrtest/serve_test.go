package xandrtest

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFaultsCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults Faults
		err    string
	}{
		{"none", Faults{}, ""},
		{"all at once", Faults{Unavailable: 0.5, Dropped: 0.25, Slow: 0.25, SlowBy: time.Second}, ""},
		{"a fraction over 1", Faults{Dropped: 1.5}, "--fault-drop 1.5: want a fraction from 0 to 1"},
		{"a negative fraction", Faults{Unavailable: -0.1}, "--fault-503 -0.1: want a fraction from 0 to 1"},
		{"more than 1 together", Faults{Unavailable: 0.6, Slow: 0.6, SlowBy: time.Second}, "add up to 1.2"},
		{"slow by nothing", Faults{Slow: 0.1}, "--fault-slow-by 0s: want a positive duration"},
	} {
		err := tc.faults.Check()
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: Check() = %v, want %q", tc.name, err, tc.err)
		}
	}
}

// Serve answers until its context ends, then writes the state it holds.
func TestServeWritesStateOnStop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stateOut := filepath.Join(t.TempDir(), "state.json")
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- NewHandler(WithToken(testToken)).Serve(ctx, ln, stateOut) }()
	resp, err := post(t.Context(), http.DefaultClient, "http://"+ln.Addr().String(), "u1")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST to the served emulator: %v %v", resp, err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v after its context ended, want nil", err)
	}
	b, err := os.ReadFile(stateOut)
	if err != nil || !strings.Contains(string(b), `"u1"`) {
		t.Errorf("state written on stop: %q, %v; want it to hold u1", b, err)
	}
}
