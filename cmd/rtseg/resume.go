package main

import "time"

// stateLockWait is how long a run waits for --state-dir: an orchestrator
// may restart a job within milliseconds of killing it, while the killed
// process still holds the directory.
const stateLockWait = 5 * time.Second
