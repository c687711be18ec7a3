package reader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync/atomic"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/apache/arrow/go/v15/parquet/schema"
)

// Parquet reading sizes: rows per record batch, and the read buffer of each
// column's stream. With buffered streams, memory stays near batch size times
// columns read, whatever the size of a row group.
const (
	parquetBatchRows  = 16 << 10
	parquetBufferSize = 256 << 10
	// parquetRows is how many validated rows go to Next at once, and
	// parquetAhead how many such runs may wait for it.
	parquetRows  = 512
	parquetAhead = 4
)

// parquetFile reads one Parquet file record batch by record batch, only the
// columns that give fields, one row group at a time. One goroutine reads
// and validates the rows ahead of Next, so that a caller's work on rows
// overlaps decoding, as it does for CSV.
//
// Arrow v15 ends a column chunk at a page it cannot read as if the chunk
// ended there, and its record reader then reports a plain io.EOF, or goes
// on into the next row group with that column's values shifted against the
// others'. So each row group is read by a record reader of its own, and the
// rows read from it must be the number its metadata gives: anything else
// is an error naming the row group.
type parquetFile struct {
	name   string
	f      io.Closer
	pf     *file.Reader
	fr     *pqarrow.FileReader
	leaves []int // the columns read
	size   int64 // the file's size

	// Only the decoding goroutine uses these.
	rr         pqarrow.RecordReader // the current row group's, or nil
	group      int                  // the current row group, or the next one
	groupStart int64                // the rows of the row groups before it
	groupRows  int64                // the rows read from it so far
	names      [numFields]string    // the column giving each field, "" for none
	decimals   [numFields]decimal   // how to read each field's column as a number
	cells      [numFields]func(int) cell
	record     arrow.Record
	i, n       int
	rows       int64
	v          validator

	results chan decoded // runs of rows in order, then the error that ended reading
	free    chan []Row   // runs Next is done with
	quit    chan struct{}
	done    chan struct{} // closed when the decoding goroutine returns

	// Next's side: the run being handed on.
	taking
}

// decimal says how a column's values are numbers: as DECIMAL with a scale,
// or (the zero value) as what they are.
type decimal struct {
	is    bool
	scale int32
}

// newParquetFile reads a Parquet file's footer and schema, checks that the
// columns rtseg needs are there with types it can read, and prepares to
// read them, by ranges of r, whose size is size. f is closed with the file.
func newParquetFile(in inputFile, r io.ReaderAt, size int64, f io.Closer, opts *Options, counter *atomic.Int64) (pq *parquetFile, err error) {
	name := in.name
	defer func() {
		if p := recover(); p != nil {
			pq, err = nil, corrupt(fmt.Errorf("%v", p))
		}
	}()
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	// Without a buffered stream a whole column chunk is read into memory.
	props.BufferedStreamEnabled = true
	props.BufferSize = parquetBufferSize
	counting := &countingReaderAt{r: r, n: counter}
	pf, err := openParquet(counting, size, props)
	if err != nil {
		// A footer arrow refuses may only give an integer DECIMAL too
		// large a precision, as Snowflake writes it (footer.go).
		if fixed, ok := footerFix(counting, size); ok {
			if fpf, ferr := openParquet(fixed, size, props); ferr == nil {
				pf, err = fpf, nil
			}
		}
		if err != nil {
			return nil, corrupt(err)
		}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: parquetBatchRows}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, corrupt(err)
	}
	// Read the columns by their Parquet types alone, ignoring the Arrow
	// schema a writer may have stored: arrow v15 cannot make a batch of a
	// dictionary column that spans row groups ("not implemented"), while
	// the same column read as plain strings is fine. large_string columns
	// read as strings too.
	if fr.Manifest, err = pqarrow.NewSchemaManifest(pf.MetaData().Schema, nil, &fr.Props); err != nil {
		pf.Close()
		return nil, corrupt(err)
	}
	top := fr.Manifest.Fields
	found := make([]string, len(top))
	for i, sf := range top {
		found[i] = sf.Field.Name
	}
	m, fill, err := mapColumns(found, in.parts, opts, 0)
	if err != nil {
		pf.Close()
		return nil, err
	}
	pq = &parquetFile{name: name, f: f, pf: pf, fr: fr, v: newValidator(opts.Defaults), size: size}
	pq.v.fillWith(fill)
	for field, col := range m {
		if col < 0 {
			continue
		}
		sf := top[col]
		if !readable(sf.Field.Type) || !sf.IsLeaf() {
			pf.Close()
			return nil, fmt.Errorf("column %q (for %s) is %s; rtseg reads text, integer, decimal and floating-point columns", sf.Field.Name, fieldNames[field], sf.Field.Type)
		}
		if d, ok := sf.Field.Type.(arrow.DecimalType); ok {
			// Read a DECIMAL as it is stored, and make its values
			// numbers here: arrow would first convert each to a
			// decimal128, a copy for nothing.
			pq.decimals[field] = decimal{is: true, scale: d.GetScale()}
			sf.Field.Type = storageType(pf.MetaData().Schema.Column(sf.ColIndex))
		}
		pq.names[field] = sf.Field.Name
		pq.leaves = append(pq.leaves, sf.ColIndex)
	}
	pq.results = make(chan decoded, parquetAhead)
	pq.free = make(chan []Row, parquetAhead+2)
	pq.quit = make(chan struct{})
	pq.done = make(chan struct{})
	go pq.decode()
	return pq, nil
}

// openParquet reads the footer of the Parquet file r, of size bytes. Arrow
// may panic on a damaged footer: that is an error too.
func openParquet(r io.ReaderAt, size int64, props *parquet.ReaderProperties) (pf *file.Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			pf, err = nil, fmt.Errorf("%v", p)
		}
	}()
	return file.NewParquetReader(io.NewSectionReader(r, 0, size), file.WithReadProps(props))
}

// corrupt says that a file could not be read as Parquet.
func corrupt(err error) error {
	return fmt.Errorf("not a readable Parquet file (truncated or corrupt?): %w", err)
}

// Next returns the next row, numbered from 1 in the file, or io.EOF.
func (p *parquetFile) Next() (Row, error) {
	return p.row(p.free, func() decoded { return <-p.results })
}

// decode validates the file's rows and sends them on in runs, then the
// error that ended reading (io.EOF at the end), until Close.
func (p *parquetFile) decode() {
	defer close(p.done)
	defer func() {
		// Reading a damaged record batch may panic too.
		if r := recover(); r != nil {
			p.send(decoded{err: p.groupError(fmt.Errorf("the file is truncated or corrupt: %v", r))})
		}
	}()
	for {
		var rows []Row
		select {
		case rows = <-p.free:
		default:
			rows = make([]Row, 0, parquetRows)
		}
		rows, err := p.fill(rows)
		if len(rows) > 0 && !p.send(decoded{rows: rows}) {
			return
		}
		if err != nil {
			p.send(decoded{err: err})
			return
		}
	}
}

// send hands a run to Next; it reports false once the file is closed.
func (p *parquetFile) send(d decoded) bool {
	select {
	case p.results <- d:
		return true
	case <-p.quit:
		return false
	}
}

// fill appends rows, reading record batches as needed, until rows is full
// or reading ends.
func (p *parquetFile) fill(rows []Row) ([]Row, error) {
	for len(rows) < cap(rows) {
		if p.i >= p.n {
			if err := p.nextRecord(); err != nil {
				return rows, err
			}
			continue
		}
		var rec record
		for f, c := range p.cells {
			if c != nil {
				rec[f] = c(p.i)
			}
		}
		p.i++
		p.rows++
		rows = append(rows, p.v.row(Position{File: p.name, Line: p.rows}, &rec))
	}
	return rows, nil
}

// nextRecord reads the next record batch, from the next row group when
// the current one is read in full. Arrow may panic on a corrupt file; that
// becomes an error too.
func (p *parquetFile) nextRecord() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = p.groupError(fmt.Errorf("the file is truncated or corrupt: %v", r))
		}
	}()
	p.record, p.i, p.n = nil, 0, 0
	md := p.pf.MetaData()
	for {
		if p.rr == nil {
			if p.group == p.pf.NumRowGroups() {
				if total := md.GetNumRows(); p.groupStart != total {
					return fmt.Errorf("the file's footer gives %d rows, its row groups %d: the file is corrupt", total, p.groupStart)
				}
				return io.EOF
			}
			if md.RowGroup(p.group).NumRows() == 0 {
				p.group++
				continue
			}
			if err := p.checkChunks(); err != nil {
				return p.groupError(fmt.Errorf("the file is corrupt: %w", err))
			}
			rr, err := p.fr.GetRecordReader(context.Background(), p.leaves, []int{p.group})
			if err != nil {
				return p.groupError(fmt.Errorf("the file is truncated or corrupt: %w", err))
			}
			p.rr, p.groupRows = rr, 0
		}
		want := md.RowGroup(p.group).NumRows()
		if !p.rr.Next() {
			// Err is io.EOF at a normal end in arrow v15, and at a page
			// it could not read.
			if err := p.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
				return p.groupError(fmt.Errorf("the file is truncated or corrupt: %w", err))
			}
			if p.groupRows != want {
				return p.groupError(fmt.Errorf("only %d of its %d rows could be read: the file is truncated or corrupt", p.groupRows, want))
			}
			p.rr.Release()
			p.rr = nil
			p.group++
			p.groupStart += want
			continue
		}
		p.record = p.rr.Record()
		if p.groupRows += p.record.NumRows(); p.groupRows > want {
			return p.groupError(fmt.Errorf("it holds more than the %d rows its metadata gives: the file is corrupt", want))
		}
		schema := p.record.Schema()
		for f, name := range p.names {
			if name == "" {
				continue
			}
			idx := schema.FieldIndices(name)
			if len(idx) == 0 {
				return p.groupError(fmt.Errorf("column %q is missing from a record batch", name))
			}
			cells, err := cellsOf(p.record.Column(idx[0]), p.decimals[f])
			if err != nil {
				return p.groupError(fmt.Errorf("column %q: %w", name, err))
			}
			p.cells[f] = cells
		}
		p.n = int(p.record.NumRows())
		return nil
	}
}

// checkChunks checks the metadata of the current row group's column
// chunks that GetRecordReader reads on goroutines of its own, where a
// panic on a damaged footer could not be recovered: here it is.
func (p *parquetFile) checkChunks() error {
	rg := p.pf.MetaData().RowGroup(p.group)
	for _, leaf := range p.leaves {
		cc, err := rg.ColumnChunk(leaf)
		if err != nil {
			return err
		}
		start, n := cc.DataPageOffset(), cc.TotalCompressedSize()
		if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 {
			start = min(start, cc.DictionaryPageOffset())
		}
		if start < 0 || n < 0 || start > p.size || n > p.size-start {
			return fmt.Errorf("column chunk %d at offset %d, %d bytes long, is not within the file's %d bytes", leaf, start, n, p.size)
		}
	}
	return nil
}

// groupError is an error reading the current row group. The rows of the
// row groups before it were all read and can be trusted.
func (p *parquetFile) groupError(err error) error {
	n := p.pf.NumRowGroups()
	if p.group >= n {
		return err
	}
	last := p.groupStart + p.pf.MetaData().RowGroup(p.group).NumRows()
	return &InputError{
		File: p.name, RowGroup: p.group + 1, Trusted: Position{File: p.name, Line: p.groupStart},
		Err: fmt.Errorf("row group %d of %d (rows %d to %d): %w", p.group+1, n, p.groupStart+1, last, err),
	}
}

// Close stops decoding, releases the record batch and closes the file.
func (p *parquetFile) Close() error {
	close(p.quit)
	<-p.done
	if p.rr != nil {
		p.rr.Release()
		p.rr = nil
	}
	p.record = nil
	p.pf.Close()
	return p.f.Close()
}

// readable reports whether rtseg can read a column of this type.
func readable(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.BINARY,
		arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.DECIMAL128, arrow.DECIMAL256,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
		return true
	}
	return false
}

// storageType is the Arrow type a DECIMAL column's values are read as:
// its physical type, without the conversion to decimal128.
func storageType(c *schema.Column) arrow.DataType {
	switch c.PhysicalType() {
	case parquet.Types.Int32:
		return arrow.PrimitiveTypes.Int32
	case parquet.Types.Int64:
		return arrow.PrimitiveTypes.Int64
	case parquet.Types.FixedLenByteArray:
		return &arrow.FixedSizeBinaryType{ByteWidth: c.TypeLength()}
	}
	return arrow.BinaryTypes.Binary
}

// cellsOf returns a function giving the cells of a column: text for text
// columns, numbers for number columns, absent for nulls. The text points
// into the batch: the validator copies what a row keeps. Columns come as
// their Parquet types read them (see newParquetFile): string and binary for
// BYTE_ARRAY, whatever their Arrow type when written (dictionary,
// large_string), integers of every width and sign, floats, and DECIMAL as
// stored (dec), in integers or bytes.
func cellsOf(a arrow.Array, dec decimal) (func(int) cell, error) {
	if dec.is {
		return decimalCells(a, dec.scale)
	}
	switch a := a.(type) {
	case *array.String:
		return func(i int) cell {
			if a.IsNull(i) {
				return cell{}
			}
			return cell{text: a.Value(i)}
		}, nil
	case *array.Binary:
		return func(i int) cell {
			if a.IsNull(i) {
				return cell{}
			}
			return cell{text: a.ValueString(i)}
		}, nil
	case *array.Int8:
		return intCells(a, func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Int16:
		return intCells(a, func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Int32:
		return intCells(a, func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Int64:
		return intCells(a, a.Value), nil
	case *array.Uint8:
		return intCells(a, func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Uint16:
		return intCells(a, func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Uint32:
		return intCells(a, func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Uint64:
		return func(i int) cell {
			if a.IsNull(i) {
				return cell{}
			}
			if v := a.Value(i); v > math.MaxInt64 {
				return cell{text: strconv.FormatUint(v, 10), err: ErrOutOfRange}
			} else {
				return cell{num: int64(v), isNum: true}
			}
		}, nil
	case *array.Float64:
		return func(i int) cell {
			if a.IsNull(i) {
				return cell{}
			}
			return floatCell(a.Value(i), 64)
		}, nil
	case *array.Float32:
		return func(i int) cell {
			if a.IsNull(i) {
				return cell{}
			}
			return floatCell(float64(a.Value(i)), 32)
		}, nil
	case *array.Float16:
		return func(i int) cell {
			if a.IsNull(i) {
				return cell{}
			}
			return floatCell(float64(a.Value(i).Float32()), 32)
		}, nil
	}
	return nil, fmt.Errorf("rtseg cannot read %s values", a.DataType())
}

// decimalCells returns a function giving the cells of a DECIMAL column,
// read as its storage (storageType).
func decimalCells(a arrow.Array, scale int32) (func(int) cell, error) {
	switch a := a.(type) {
	case *array.Int32:
		return func(i int) cell {
			if a.IsNull(i) {
				return cell{}
			}
			return decimalCell(int64(a.Value(i)), scale)
		}, nil
	case *array.Int64:
		return func(i int) cell {
			if a.IsNull(i) {
				return cell{}
			}
			return decimalCell(a.Value(i), scale)
		}, nil
	case *array.FixedSizeBinary:
		return func(i int) cell {
			if a.IsNull(i) {
				return cell{}
			}
			return decimalBytesCell(a.Value(i), scale)
		}, nil
	case *array.Binary:
		return func(i int) cell {
			if a.IsNull(i) {
				return cell{}
			}
			return decimalBytesCell(a.Value(i), scale)
		}, nil
	}
	return nil, fmt.Errorf("rtseg cannot read %s values as a decimal", a.DataType())
}

func intCells(a arrow.Array, value func(int) int64) func(int) cell {
	return func(i int) cell {
		if a.IsNull(i) {
			return cell{}
		}
		return cell{num: value(i), isNum: true}
	}
}

// countingReaderAt counts the bytes read from a Parquet file.
type countingReaderAt struct {
	r io.ReaderAt
	n *atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}
