package reader

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/rtseg/rtseg/objstore"

	"github.com/klauspost/compress/zstd"
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
	// Objects tune how objects in stores are read (INPUTs such as
	// s3://bucket/prefix/).
	Objects objstore.Options

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
	files   []inputFile
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

// inputFile is one file to read, as expandInputs found it.
//
// Files are found and opened through an io/fs.FS, the one seam between
// reading and where the bytes are: os.DirFS for a local folder (or the
// folder of a local file), and any other fs.FS for another store, such as
// a bucket of objects. What the reader asks of such a file system:
//   - fs.ReadDir lists a folder, in name order, for the recursive walk
//     (walkDir), and fs.Stat tells a folder from a file and gives a
//     file's size;
//   - Open gives a file that reads as a stream (CSV, TSV, compressed or
//     not);
//   - a Parquet file is read by ranges: its fs.File must also be an
//     io.ReaderAt, and its Stat must give its size.
//
// name is the file as reports and messages show it: for a local file its
// path, the INPUT argument joined with the path below it
// ("exports/domain=idfa/part-0.parquet"), so that files of the same name
// in different folders can be told apart.
type inputFile struct {
	name  string
	fsys  fs.FS  // nil for standard input
	path  string // in fsys
	parts []partition
}

// expandInputs expands INPUT arguments into the files to read: a file as it
// is, a directory's data files at any depth in name order (walkDir), a
// glob's matches sorted by name (a matching directory is expanded as a
// directory is), or "-" for standard input.
func expandInputs(inputs []string, so objstore.Options) ([]inputFile, error) {
	var files []inputFile
	for _, in := range inputs {
		if in == Stdin {
			files = append(files, inputFile{name: Stdin})
			continue
		}
		if objstore.IsURL(in) {
			found, err := objectInputs(in, so)
			if err != nil {
				return nil, err
			}
			files = append(files, found...)
			continue
		}
		info, err := os.Stat(in)
		switch {
		case err == nil && info.IsDir():
			found, err := localDir(in)
			if err != nil {
				return nil, err
			}
			files = append(files, found...)
		case err == nil:
			files = append(files, localFile(in))
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
					found, err := localDir(m)
					if err != nil {
						return nil, err
					}
					files = append(files, found...)
					continue
				}
				files = append(files, localFile(m))
			}
		default:
			return nil, pathError(in, err)
		}
	}
	return files, nil
}

// localFile is a local file named by its path.
func localFile(p string) inputFile {
	dir := filepath.Dir(p)
	return inputFile{name: p, fsys: os.DirFS(dir), path: filepath.Base(p), parts: partitionsIn(filepath.ToSlash(dir))}
}

// localDir lists the data files of a local directory and those below it.
func localDir(dir string) ([]inputFile, error) {
	found, err := walkDir(os.DirFS(dir), ".", filepath.ToSlash(dir))
	if err != nil {
		return nil, walkError(dir, err)
	}
	for i := range found {
		found[i].name = filepath.FromSlash(found[i].name)
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoDataFiles)
	}
	return found, nil
}

// ErrNoDataFiles is a folder without a file to read at any depth.
var ErrNoDataFiles = errors.New("no *.csv, *.tsv or *.parquet files (nor .gz, .zst or .bz2 compressed CSV or TSV) in this directory or below it")

// maxDepth bounds the folders walkDir goes down, against a loop of
// symbolic links.
const maxDepth = 64

// walkDir lists the data files in the folder root of fsys and in every
// folder below it, depth first, each folder's entries in name order, as
// Spark, Hive, DuckDB and BigQuery lay exports out. Names that start with
// "." or "_" are skipped at any depth, files and folders alike (_SUCCESS,
// .part-0.crc, _delta_log/, _temporary/). name is how messages name root,
// in slash form: each file's name is name joined with its path below
// root, and the key=value folders of that name are the file's partitions
// (partitionsIn). An error is a *fs.PathError naming the path in fsys
// that failed.
func walkDir(fsys fs.FS, root, name string) ([]inputFile, error) {
	var found []inputFile
	var walk func(dir, shown string, depth int) error
	walk = func(dir, shown string, depth int) error {
		if depth > maxDepth {
			return &fs.PathError{Op: "walk", Path: dir, Err: fmt.Errorf("more than %d folders deep (a loop of symbolic links?)", maxDepth)}
		}
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if hidden(e.Name()) {
				continue
			}
			p, s := path.Join(dir, e.Name()), path.Join(shown, e.Name())
			isDir := e.IsDir()
			if e.Type()&fs.ModeSymlink != 0 {
				// Follow a link to see whether it is a folder.
				if info, err := fs.Stat(fsys, p); err == nil {
					isDir = info.IsDir()
				}
			}
			switch {
			case isDir:
				if err := walk(p, s, depth+1); err != nil {
					return err
				}
			case isDataFile(e.Name()):
				found = append(found, inputFile{name: s, fsys: fsys, path: p, parts: partitionsIn(shown)})
			}
		}
		return nil
	}
	if err := walk(root, name, 0); err != nil {
		return nil, err
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

// walkError names the path below dir that a walk of dir failed on.
func walkError(dir string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path != "." && pe.Path != "" {
		return fmt.Errorf("%s: %w", filepath.Join(dir, filepath.FromSlash(pe.Path)), pe.Err)
	}
	return pathError(dir, err)
}

// hidden reports whether a name in a directory marks a file that is not
// data: it starts with "." or "_".
func hidden(name string) bool { return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") }

// compressions are the suffixes of compressed CSV and TSV files; the
// compression itself is recognised by its magic bytes.
var compressions = []string{".gz", ".zst", ".bz2"}

// isDataFile reports whether a folder's file is one to read: *.csv, *.tsv
// (either compressed) or *.parquet.
func isDataFile(name string) bool {
	n := strings.ToLower(name)
	if strings.HasSuffix(n, ".parquet") {
		return true
	}
	n = uncompressedName(n)
	return strings.HasSuffix(n, ".csv") || strings.HasSuffix(n, ".tsv")
}

// uncompressedName drops a compression suffix from a lower-case name.
func uncompressedName(lower string) string {
	for _, c := range compressions {
		if s, ok := strings.CutSuffix(lower, c); ok {
			return s
		}
	}
	return lower
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
	files, err := expandInputs(inputs, opts.Objects)
	if err != nil {
		return nil, err
	}
	stdin := 0
	for _, f := range files {
		if f.name == Stdin {
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
func (r *Reader) Files() []string {
	names := make([]string, len(r.files))
	for i, f := range r.files {
		names[i] = f.name
	}
	return names
}

// Size is the total size in bytes of the files, as they are now, to set
// BytesRead against; -1 when it is unknown: one is standard input, or
// cannot be found.
func (r *Reader) Size() int64 {
	var total int64
	for _, f := range r.files {
		if f.fsys == nil {
			return -1
		}
		info, err := fs.Stat(f.fsys, f.path)
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
			r.prev, r.last = r.files[r.next-1].name, Position{}
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
	name := r.files[r.next-1].name
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
	zstdMagic    = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// isBzip2 reports whether a stream starts as bzip2 does: "BZh", the block
// size, then the magic of a block or of the end of the stream.
func isBzip2(head []byte) bool {
	if len(head) < 10 || string(head[:3]) != "BZh" || head[3] < '1' || head[3] > '9' {
		return false
	}
	block := string(head[4:10])
	return block == "\x31\x41\x59\x26\x53\x59" || block == "\x17\x72\x45\x38\x50\x90"
}

// openNext opens the next file. Its errors do not name the file: Next
// makes them *InputErrors, which do.
func (r *Reader) openNext() error {
	in := r.files[r.next]
	r.next++
	r.compressed = false
	if in.fsys == nil {
		return r.openStream(in, r.opts.Stdin, nil)
	}
	f, err := in.fsys.Open(in.path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	format := r.opts.Format
	if format == FormatAuto {
		format = formatOf(in.name, f)
	}
	if format == FormatParquet {
		ra, ok := f.(io.ReaderAt)
		if !ok {
			f.Close()
			return errors.New("Parquet needs random access, which this file does not give")
		}
		info, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		pf, err := newParquetFile(in, ra, info.Size(), f, &r.opts, &r.bytesIn)
		if err != nil {
			f.Close()
			return err
		}
		r.cur = pf
		return nil
	}
	return r.openStream(in, f, f)
}

// formatOf decides a file's format by its extension, then by its first
// bytes.
func formatOf(name string, f fs.File) string {
	lower := strings.ToLower(name)
	switch un := uncompressedName(lower); {
	case strings.HasSuffix(lower, ".parquet"):
		return FormatParquet
	case strings.HasSuffix(un, ".csv"), strings.HasSuffix(un, ".tsv"):
		return FormatCSV
	}
	if ra, ok := f.(io.ReaderAt); ok {
		magic := make([]byte, len(parquetMagic))
		if n, _ := ra.ReadAt(magic, 0); n == len(magic) && string(magic) == string(parquetMagic) {
			return FormatParquet
		}
	}
	return FormatCSV
}

// delimiterOf is the delimiter of a CSV file: --delimiter, or a tab for a
// *.tsv file (compressed or not), or a comma.
func delimiterOf(name string, opts *Options) rune {
	switch {
	case opts.Delimiter != 0:
		return opts.Delimiter
	case strings.HasSuffix(uncompressedName(strings.ToLower(name)), ".tsv"):
		return '\t'
	}
	return ','
}

// openStream starts reading a CSV stream, decompressing it if it is gzip,
// zstd or bzip2.
func (r *Reader) openStream(in inputFile, src io.Reader, closer io.Closer) error {
	fail := func(err error) error {
		if closer != nil {
			closer.Close()
		}
		return err
	}
	br := bufio.NewReaderSize(&countingReader{r: src, n: &r.bytesIn}, 64<<10)
	var text io.Reader = br
	head, _ := br.Peek(10)
	var kind string
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fail(fmt.Errorf("not a readable gzip file: %w", err))
		}
		text, kind = zr, "gzip"
	case bytes.HasPrefix(head, zstdMagic):
		// One goroutine-free decoder; a window of at most 128 MiB (what
		// zstd --long=27 writes) bounds its memory.
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(128<<20))
		if err != nil {
			return fail(fmt.Errorf("not a readable zstd file: %w", err))
		}
		zrc := zr.IOReadCloser()
		text, kind = zstdErrors{zrc}, "zstd"
		if closer != nil {
			// Not for standard input: Close waits for a file's reads to
			// end, which standard input's may not (see csvFile.Close).
			closer = closers{zrc, closer}
		}
	case isBzip2(head):
		text, kind = bzip2.NewReader(br), "bzip2"
	}
	if kind != "" {
		text = bufio.NewReaderSize(text, 64<<10)
		r.compressed = true
	}
	if head, _ := text.(*bufio.Reader).Peek(len(parquetMagic)); string(head) == string(parquetMagic) && r.opts.Format != FormatCSV {
		switch {
		case in.fsys == nil:
			return fail(errParquetFromStream)
		case kind != "":
			return fail(fmt.Errorf("a %s-compressed Parquet file cannot be read; decompress it (Parquet compresses its own pages)", kind))
		}
	}
	fr, err := newCSVFile(in.name, text, closer, delimiterOf(in.name, &r.opts), in.parts, &r.opts)
	if err != nil {
		if kind != "" {
			// A compressed file is checked at the end of a block (bzip2)
			// or of the file (gzip): a header that makes no sense may be
			// damage the check would find. Look a little further.
			if _, derr := io.CopyN(io.Discard, text, damageLookahead); derr != nil && derr != io.EOF {
				return fail(fmt.Errorf("not a readable %s file: %w", kind, readError(derr)))
			}
		}
		return fail(err)
	}
	r.cur = fr
	return nil
}

// damageLookahead is how far past a header that cannot be used a
// compressed stream is read to find damage: past a bzip2 block (900 kB at
// most) and the start of most gzip files.
const damageLookahead = 16 << 20

// zstdErrors says "zstd" in the errors of its decoder, which do not, as
// gzip's and bzip2's do, so that a damaged file says what it was read as.
type zstdErrors struct{ r io.Reader }

func (z zstdErrors) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	if err != nil && err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.HasPrefix(err.Error(), "zstd") {
		err = fmt.Errorf("zstd: %w", err)
	}
	return n, err
}

// closers closes several things, the first error winning; nil ones are
// skipped.
type closers []io.Closer

func (cs closers) Close() error {
	var first error
	for _, c := range cs {
		if c == nil {
			continue
		}
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
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
