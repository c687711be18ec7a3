// Package reader turns input files into rows, the first stage of rtseg.
//
// It owns finding the files an INPUT names (file, directory, glob or "-"),
// decoding CSV and Parquet, and validating each record against the rules of
// the Instant Audience Service. Reading is pull-based and synchronous, like
// encoding/csv: Next returns one Row at a time and io.EOF at the end. A record
// that breaks a rule is not an error: it comes back as a Row whose Reason says
// why, with its position, so the run goes on and the report can name it.
package reader
