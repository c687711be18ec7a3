//go:build !race

package main

import (
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestLimiterScripts runs cmd/rtseg/testdata/limiter/*.txtar: the shared
// limiter's scripts that measure at the emulator how close to the limits,
// and how fast, several processes send. The race detector stalls the
// processes and the emulator for longer than any allowance for delays on
// the way (three processes sharing a limit of 10 calls a second put 11 to
// 15 into one second under it), and scripts running beside them are noise:
// .ci/run runs them without it, one at a time (go test -parallel 1), last.
func TestLimiterScripts(t *testing.T) {
	testscript.Run(t, scriptParams("testdata/limiter"))
}
