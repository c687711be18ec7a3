//go:build !windows

package main

import (
	"os"
	"syscall"
)

// stopSignals end a run gracefully: Ctrl-C, and what orchestrators send.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// signalNumber is the number exit statuses add to 128: 2 or 15.
func signalNumber(s os.Signal) int {
	if s == syscall.SIGTERM {
		return 15
	}
	return 2
}
