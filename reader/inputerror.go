package reader

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// InputError is an input file that could not be read to its end: it
// cannot be opened or decoded, it is truncated or corrupt, or its header
// lacks a column every row needs. Every error other than io.EOF that Next
// and NextBatch return is an *InputError. It says how far the rows already
// delivered can be trusted, for a caller that streams them on (--sorted).
type InputError struct {
	// File is the input that failed, as Files lists it (Stdin for
	// standard input).
	File string
	// Previous is the file read in full before File, or "" when File is
	// the first.
	Previous string
	// Last is the last row of File that Next or NextBatch delivered; its
	// Line is 0 when none was.
	Last Position
	// Trusted is the last row of File whose data can be trusted; its Line
	// is 0 when none can be. For plain CSV it is Last. For Parquet it is
	// at most the last row of the last row group read in full, since a
	// corrupt page can shift one column's values against the others'
	// within its row group. For a compressed file it is none (see
	// Compressed).
	Trusted Position
	// Compressed says that File is compressed (gzip), whose checksum is
	// checked only at its end: the rows delivered from it before the
	// error may be garbage.
	Compressed bool
	// RowGroup is the 1-based Parquet row group in which reading failed,
	// or 0 (CSV, or a Parquet file that failed before its rows).
	RowGroup int
	// Err is what went wrong. It does not name the file.
	Err error
}

// Error names the file, then the row group of a Parquet file, then what
// went wrong: "users.parquet: row group 2 of 3 (rows 65537 to 131072):
// ...".
func (e *InputError) Error() string { return fileName(e.File) + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *InputError) Unwrap() error { return e.Err }

// TrustedUpTo says in a sentence (lowercase, without a final period) up to
// where the input's data can be trusted, for a run that streamed the rows
// before the error on: "data is trustworthy up to users.csv:1200", "data
// is trustworthy up to the end of a.csv", or "no data is trustworthy",
// each followed, when rows of File after that point were delivered, by why
// they cannot be trusted.
func (e *InputError) TrustedUpTo() string {
	var s string
	switch {
	case e.Trusted.Line > 0:
		s = "data is trustworthy up to " + positionName(e.Trusted)
	case e.Previous != "":
		s = "data is trustworthy up to the end of " + fileName(e.Previous)
	default:
		s = "no data is trustworthy"
	}
	if e.Last.Line <= e.Trusted.Line {
		return s
	}
	switch {
	case e.Compressed:
		return fmt.Sprintf("%s: the rows read from %s cannot be, since a compressed file is checked only at its end", s, fileName(e.File))
	case e.RowGroup > 0:
		return fmt.Sprintf("%s: the rows read from row group %d of %s cannot be, since a corrupt page can shift a column's values", s, e.RowGroup, fileName(e.File))
	}
	return s
}

// noEOF returns err, unless io.EOF is in its chain (arrow wraps it in the
// errors of a footer cut short): then an error saying the same whose chain
// holds io.ErrUnexpectedEOF instead, so that a caller that takes
// errors.Is(err, io.EOF) for the end of the input never takes a damaged
// file for it.
func noEOF(err error) error {
	if !errors.Is(err, io.EOF) {
		return err
	}
	return &unexpectedEOF{err.Error()}
}

type unexpectedEOF struct{ msg string }

func (e *unexpectedEOF) Error() string { return e.msg }
func (e *unexpectedEOF) Unwrap() error { return io.ErrUnexpectedEOF }

// inputError makes err an *InputError about file, unless it is one.
func inputError(file string, err error) *InputError {
	var ie *InputError
	if errors.As(err, &ie) {
		return ie
	}
	return &InputError{File: file, Err: err}
}

// fileName is a file as messages name it.
func fileName(f string) string {
	if f == Stdin {
		return "standard input"
	}
	return printable(f)
}

// positionName is a position as messages name it.
func positionName(p Position) string {
	return fileName(p.File) + ":" + strconv.FormatInt(p.Line, 10)
}
