// Package samples holds the sample input that rtseg demo uploads, embedded so
// that the demo works from any directory.
package samples

import "embed"

// FS holds the sample files.
//
//go:embed *.csv
var FS embed.FS
