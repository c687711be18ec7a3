// Command rtseg loads audience data from CSV and Parquet files into the Xandr
// Instant Audience Service. Run "rtseg --help" for usage.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:]))
}
