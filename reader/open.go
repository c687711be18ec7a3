package reader

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// ErrEmpty is returned for an input with no header at all.
var ErrEmpty = errors.New("file is empty (no header line)")

// Stdin is the INPUT that names standard input.
const Stdin = "-"

// Formats for Options.Format.
const (
	FormatAuto    = "auto"
	FormatCSV     = "csv"
	FormatParquet = "parquet"
)

// Options say how to read the inputs.
type Options struct {
	// Format is "csv", "parquet" or "auto" (the default: by extension, then
	// by content).
	Format string
	// Columns maps field names, in lower case, to the file's column names
	// (--columns); Open refuses what CheckColumns refuses.
	Columns map[string]string
	// Delimiter separates CSV fields; 0 means a comma.
	Delimiter rune
	// Defaults fill absent fields.
	Defaults Defaults
	// Stdin is read for the input "-".
	Stdin io.Reader

	// chunkBytes is the size of the chunks CSV records are decoded in;
	// 0 means defaultChunkBytes. Tests make it tiny.
	chunkBytes int
}

// fileReader reads the rows of one file.
type fileReader interface {
	Next() (Row, error)
	Close() error
}

// Reader reads the rows of several inputs in order, one file at a time.
type Reader struct {
	files   []string
	opts    Options
	cur     fileReader
	next    int
	bytesIn atomic.Int64

	// For an *InputError: the file read in full before the current one,
	// the last row delivered from the current one, and whether it is
	// compressed.
	prev       string
	last       Position
	compressed bool
}

// expandInputs expands INPUT arguments into the files to read: a file as it
// is, a directory's *.csv, *.csv.gz and *.parquet files sorted by name, a
// glob's matches sorted by name (a matching directory is expanded as a
// directory is), or "-" for standard input.
func expandInputs(inputs []string) ([]string, error) {
	var files []string
	for _, in := range inputs {
		if in == Stdin {
			files = append(files, in)
			continue
		}
		info, err := os.Stat(in)
		switch {
		case err == nil && info.IsDir():
			found, err := dataFiles(in)
			if err != nil {
				return nil, err
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
			for _, m := range matches {
				if info, err := os.Stat(m); err == nil && info.IsDir() {
					found, err := dataFiles(m)
					if err != nil {
						return nil, err
					}
					files = append(files, found...)
					continue
				}
				files = append(files, m)
			}
		default:
			return nil, pathError(in, err)
		}
	}
	return files, nil
}

// dataFiles lists a directory's input files in name order. Names that
// start with "." or "_" are skipped, as Spark, Hive and Hadoop mark the
// files that are not data (_SUCCESS, .part-00000.csv.crc, .x.csv being
// written).
func dataFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, pathError(dir, err)
	}
	var found []string
	for _, e := range entries {
		if !e.IsDir() && !hidden(e.Name()) && isDataFile(e.Name()) {
			found = append(found, filepath.Join(dir, e.Name()))
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%s: no *.csv, *.csv.gz or *.parquet files in this directory", dir)
	}
	return found, nil
}

// pathError names the path once: "x.csv: no such file or directory".
func pathError(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", name, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// hidden reports whether a name in a directory marks a file that is not
// data: it starts with "." or "_".
func hidden(name string) bool { return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") }

func isDataFile(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".csv") || strings.HasSuffix(n, ".csv.gz") || strings.HasSuffix(n, ".parquet")
}

// Open prepares to read the inputs in order. It checks that every input
// exists; files are opened one at a time, as reading reaches them.
func Open(inputs []string, opts Options) (*Reader, error) {
	switch opts.Format {
	case "":
		opts.Format = FormatAuto
	case FormatAuto, FormatCSV, FormatParquet:
	default:
		return nil, fmt.Errorf("unknown format %q (want csv, parquet or auto)", opts.Format)
	}
	if err := CheckColumns(opts.Columns); err != nil {
		return nil, err
	}
	switch d := opts.Delimiter; {
	case d == '"' || d == '\r' || d == '\n' || d == utf8.RuneError || d < 0 || !utf8.ValidRune(d):
		return nil, fmt.Errorf("delimiter %q cannot separate CSV fields", d)
	}
	files, err := expandInputs(inputs)
	if err != nil {
		return nil, err
	}
	stdin := 0
	for _, f := range files {
		if f == Stdin {
			stdin++
		}
	}
	switch {
	case stdin > 1:
		return nil, errors.New(`standard input ("-") can be read only once`)
	case stdin == 1 && opts.Format == FormatParquet:
		return nil, errParquetStdin
	}
	if opts.Stdin == nil {
		opts.Stdin = os.Stdin
	}
	if kept, ok := opts.Stdin.(keptStdin); ok && stdin > 0 {
		if _, err := kept.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("standard input: %w", err)
		}
	}
	return &Reader{files: files, opts: opts}, nil
}

var (
	errParquetFromStream = errors.New("Parquet cannot be read from standard input (it needs random access); give the file's path instead")
	errParquetStdin      = fmt.Errorf("%s: %w", fileName(Stdin), errParquetFromStream)
)

// Files returns the files the reader reads, in order: the inputs as Open
// expanded them, Stdin for standard input.
func (r *Reader) Files() []string { return append([]string(nil), r.files...) }

// Size is the total size in bytes of the files, as they are now, to set
// BytesRead against; -1 when it is unknown: one is standard input, or
// cannot be found.
func (r *Reader) Size() int64 {
	var total int64
	for _, f := range r.files {
		if f == Stdin {
			return -1
		}
		info, err := os.Stat(f)
		if err != nil {
			return -1
		}
		total += info.Size()
	}
	return total
}

// BytesRead is how many input bytes were read so far (compressed bytes for
// .gz files). It is safe to call from another goroutine.
func (r *Reader) BytesRead() int64 { return r.bytesIn.Load() }

// Next returns the next row of the inputs, or io.EOF after the last one. A
// record that breaks a rule is a row with an Err, not an error. An error
// other than io.EOF means an input could not be read and ends the run: it
// is an *InputError, which names the file and says how far its rows can be
// trusted.
func (r *Reader) Next() (Row, error) {
	for {
		if r.cur == nil {
			if r.next == len(r.files) {
				return Row{}, io.EOF
			}
			if err := r.openNext(); err != nil {
				return Row{}, r.fail(err)
			}
		}
		row, err := r.cur.Next()
		switch {
		case err == io.EOF: // the end: file readers return io.EOF itself, as an io.Reader does
			if err := r.Close(); err != nil {
				return Row{}, r.fail(err)
			}
			r.prev, r.last = r.files[r.next-1], Position{}
			continue
		case err != nil:
			return Row{}, r.fail(err)
		}
		r.last = row.Pos
		return row, nil
	}
}

// fail makes an error reading the current file an *InputError, saying
// which rows of it were delivered and which can be trusted.
func (r *Reader) fail(err error) *InputError {
	name := r.files[r.next-1]
	ie := inputError(name, err)
	ie.Err = noEOF(ie.Err)
	ie.Previous, ie.Compressed = r.prev, r.compressed
	ie.Last = Position{}
	if r.last.File == name {
		ie.Last = r.last
	}
	switch {
	case ie.Compressed:
		ie.Trusted = Position{}
	case ie.RowGroup > 0:
		// The Parquet reader set the end of the last row group read in
		// full, which may be ahead of what was delivered.
		if ie.Trusted.Line > ie.Last.Line {
			ie.Trusted = ie.Last
		}
	default:
		ie.Trusted = ie.Last
	}
	return ie
}

// NextBatch appends rows to batch, up to its capacity, as Next would return
// them, and returns it; the error is what Next would return after the last
// row appended (io.EOF at the end). It spares a caller that takes rows by
// the thousand a call for each.
func (r *Reader) NextBatch(batch []Row) ([]Row, error) {
	for len(batch) < cap(batch) {
		if b, ok := r.cur.(batchReader); ok {
			n := len(batch)
			batch = b.nextBatch(batch)
			if len(batch) > n {
				r.last = batch[len(batch)-1].Pos
				continue
			}
		}
		row, err := r.Next()
		if err != nil {
			return batch, err
		}
		batch = append(batch, row)
	}
	return batch, nil
}

// batchReader is a fileReader that can hand over the rows it holds at once.
type batchReader interface {
	// nextBatch appends to batch, up to its capacity, rows already
	// decoded, if any.
	nextBatch(batch []Row) []Row
}

// Close closes the file being read.
func (r *Reader) Close() error {
	if r.cur == nil {
		return nil
	}
	err := r.cur.Close()
	r.cur = nil
	return err
}

// Magic numbers that tell formats apart.
var (
	parquetMagic = []byte("PAR1")
	gzipMagic    = []byte{0x1f, 0x8b}
)

// openNext opens the next file. Its errors do not name the file: Next
// makes them *InputErrors, which do.
func (r *Reader) openNext() error {
	name := r.files[r.next]
	r.next++
	r.compressed = false
	if name == Stdin {
		return r.openStream(name, r.opts.Stdin, nil)
	}
	f, err := os.Open(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	format := r.opts.Format
	if format == FormatAuto {
		format = formatOf(name, f)
	}
	if format == FormatParquet {
		pf, err := newParquetFile(name, f, &r.opts, &r.bytesIn)
		if err != nil {
			f.Close()
			return err
		}
		r.cur = pf
		return nil
	}
	return r.openStream(name, f, f)
}

// formatOf decides a file's format by its extension, then by its first
// bytes.
func formatOf(name string, f *os.File) string {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".parquet"):
		return FormatParquet
	case strings.HasSuffix(lower, ".csv"), strings.HasSuffix(lower, ".csv.gz"):
		return FormatCSV
	}
	magic := make([]byte, len(parquetMagic))
	if n, _ := f.ReadAt(magic, 0); n == len(magic) && string(magic) == string(parquetMagic) {
		return FormatParquet
	}
	return FormatCSV
}

// openStream starts reading a CSV stream, decompressing it if it is gzip.
func (r *Reader) openStream(name string, src io.Reader, closer io.Closer) error {
	fail := func(err error) error {
		if closer != nil {
			closer.Close()
		}
		return err
	}
	br := bufio.NewReaderSize(&countingReader{r: src, n: &r.bytesIn}, 64<<10)
	var in io.Reader = br
	var zr *gzip.Reader
	if head, _ := br.Peek(len(gzipMagic)); string(head) == string(gzipMagic) {
		var err error
		if zr, err = gzip.NewReader(br); err != nil {
			return fail(fmt.Errorf("not a readable gzip file: %w", err))
		}
		in = bufio.NewReaderSize(zr, 64<<10)
		r.compressed = true
	}
	if head, _ := in.(*bufio.Reader).Peek(len(parquetMagic)); string(head) == string(parquetMagic) && r.opts.Format != FormatCSV {
		switch {
		case name == Stdin:
			return fail(errParquetFromStream)
		case zr != nil:
			return fail(errors.New("a compressed Parquet file cannot be read; decompress it (Parquet compresses its own pages)"))
		}
	}
	fr, err := newCSVFile(name, in, closer, &r.opts)
	if err != nil {
		return fail(err)
	}
	r.cur = fr
	return nil
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
