package main

import "os"

// stopSignals end a run gracefully. Windows has no SIGTERM: Go delivers
// both Ctrl-C and Ctrl-Break as os.Interrupt, which exits 130 as SIGINT
// does elsewhere.
var stopSignals = []os.Signal{os.Interrupt}

// signalNumber is the number exit statuses add to 128: 2, as for SIGINT.
func signalNumber(os.Signal) int { return 2 }
