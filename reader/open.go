package reader

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
)

// ErrEmpty is returned for an input with no header at all.
var ErrEmpty = errors.New("file is empty (no header line)")

// Stdin is the INPUT that names standard input.
const Stdin = "-"

// Options say how to read the inputs.
type Options struct {
	// Format is "csv", "parquet" or "auto" (by extension, then by content).
	Format string
	// Columns maps field names to the file's column names (--columns).
	Columns map[string]string
	// Delimiter separates CSV fields; 0 means a comma.
	Delimiter rune
	// Defaults fill absent fields.
	Defaults Defaults
	// Stdin is read for the input "-".
	Stdin io.Reader
}

// fileReader reads the rows of one file.
type fileReader interface {
	Next() (Row, error)
}

// Reader reads the rows of several inputs in order.
type Reader struct {
	files   []string
	opts    Options
	cur     fileReader
	closer  io.Closer
	next    int
	bytesIn atomic.Int64
}

// Files expands INPUT arguments into the files to read: a file as it is, a
// directory's *.csv, *.csv.gz and *.parquet files sorted by name, a glob's
// matches sorted by name, or "-" for standard input.
func Files(inputs []string) ([]string, error) {
	var files []string
	for _, in := range inputs {
		if in == Stdin {
			files = append(files, in)
			continue
		}
		info, err := os.Stat(in)
		switch {
		case err == nil && info.IsDir():
			entries, err := os.ReadDir(in)
			if err != nil {
				return nil, err
			}
			var found []string
			for _, e := range entries {
				if !e.IsDir() && isDataFile(e.Name()) {
					found = append(found, filepath.Join(in, e.Name()))
				}
			}
			if len(found) == 0 {
				return nil, fmt.Errorf("%s: no *.csv, *.csv.gz or *.parquet files in this directory", in)
			}
			files = append(files, found...)
		case err == nil:
			files = append(files, in)
		case strings.ContainsAny(in, "*?["):
			matches, gerr := filepath.Glob(in)
			if gerr != nil {
				return nil, fmt.Errorf("%s: %w", in, gerr)
			}
			if len(matches) == 0 {
				return nil, fmt.Errorf("%s: no file matches this pattern", in)
			}
			sort.Strings(matches)
			files = append(files, matches...)
		default:
			return nil, err
		}
	}
	return files, nil
}

func isDataFile(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".csv") || strings.HasSuffix(n, ".csv.gz") || strings.HasSuffix(n, ".parquet")
}

// Open prepares to read the inputs in order. Files are opened one at a time,
// as reading reaches them.
func Open(inputs []string, opts Options) (*Reader, error) {
	files, err := Files(inputs)
	if err != nil {
		return nil, err
	}
	if opts.Stdin == nil {
		opts.Stdin = os.Stdin
	}
	return &Reader{files: files, opts: opts}, nil
}

// BytesRead is how many input bytes were read so far (compressed bytes for
// .gz files). It is safe to call from another goroutine.
func (r *Reader) BytesRead() int64 { return r.bytesIn.Load() }

// Next returns the next row of the inputs, or io.EOF after the last one. An
// error other than io.EOF means an input could not be read and ends the run.
func (r *Reader) Next() (Row, error) {
	for {
		if r.cur == nil {
			if r.next == len(r.files) {
				return Row{}, io.EOF
			}
			if err := r.openNext(); err != nil {
				return Row{}, err
			}
		}
		row, err := r.cur.Next()
		if errors.Is(err, io.EOF) {
			r.Close()
			continue
		}
		return row, err
	}
}

// Close closes the file being read.
func (r *Reader) Close() error {
	var err error
	if r.closer != nil {
		err = r.closer.Close()
	}
	r.cur, r.closer = nil, nil
	return err
}

func (r *Reader) openNext() error {
	name := r.files[r.next]
	r.next++
	var src io.Reader
	if name == Stdin {
		src = r.opts.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		r.closer = f
		src = f
	}
	src = &countingReader{r: src, n: &r.bytesIn}
	if strings.HasSuffix(strings.ToLower(name), ".gz") {
		zr, err := gzip.NewReader(src)
		if err != nil {
			r.Close()
			return fmt.Errorf("%s: %w", name, err)
		}
		src = zr
	}
	format, src, err := sniff(name, src, r.opts.Format)
	if err != nil {
		r.Close()
		return err
	}
	switch format {
	case "parquet":
		r.Close()
		return fmt.Errorf("%s: Parquet input is not supported yet", name)
	default:
		fr, err := newCSVFile(name, src, &r.opts)
		if err != nil {
			r.Close()
			return err
		}
		r.cur = fr
	}
	return nil
}

// sniff decides a file's format: the --format flag, else the extension, else
// the Parquet magic bytes.
func sniff(name string, src io.Reader, format string) (string, io.Reader, error) {
	switch format {
	case "csv", "parquet":
		return format, src, nil
	case "", "auto":
	default:
		return "", nil, fmt.Errorf("unknown format %q (want csv, parquet or auto)", format)
	}
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".parquet"):
		return "parquet", src, nil
	case strings.HasSuffix(lower, ".csv"), strings.HasSuffix(lower, ".csv.gz"):
		return "csv", src, nil
	}
	br := bufio.NewReader(src)
	if magic, _ := br.Peek(4); string(magic) == "PAR1" {
		return "parquet", br, nil
	}
	return "csv", br, nil
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
