package reader

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/gocarina/gocsv"
)

// The records of a CSV stream are decoded on several goroutines, since
// decoding and validating them cost several times what cutting the stream
// into records does. One goroutine cuts the stream after the header into
// chunks of whole records; workers read each chunk's records with a
// csv.Reader of their own and have gocsv decode them, behind the mapped
// header; Next hands the rows on in input order, with the error that ended
// reading, if any, after the rows before it.

const (
	// defaultChunkBytes is the size a chunk grows to before a worker
	// takes it. The ten or so chunks read ahead, text and rows, live
	// beside what grouping holds: some 6 MiB at this size, twice that at
	// 256 KiB, for the same throughput.
	defaultChunkBytes = 128 << 10
	// maxDecoders bounds the workers, and so the chunks in memory: past a
	// few, the stages after reading are the slower ones.
	maxDecoders = 4
)

// chunk is a run of whole records, the line its first byte is on, and where
// its rows go.
type chunk struct {
	data []byte
	line int64
	res  chan decoded
}

// decoded is a chunk's rows, in order, or the error that ended reading.
type decoded struct {
	rows []Row
	err  error
}

// taking is the run of rows a file's Next hands on, and how far it is.
type taking struct {
	batch decoded
	next  int // the next row of batch
}

// row returns the next row. When the run is used up it hands its room back
// on free, if there is room there, and takes the next run from more.
func (t *taking) row(free chan<- []Row, more func() decoded) (Row, error) {
	for t.next == len(t.batch.rows) {
		if t.batch.err != nil {
			return Row{}, t.batch.err
		}
		if t.batch.rows != nil {
			select {
			case free <- t.batch.rows[:0]:
			default:
			}
		}
		t.batch, t.next = more(), 0
	}
	t.next++
	return t.batch.rows[t.next-1], nil
}

// nextBatch appends the rows left in the run decoded last, as many as
// batch has room for.
func (t *taking) nextBatch(batch []Row) []Row {
	n := min(cap(batch)-len(batch), len(t.batch.rows)-t.next)
	batch = append(batch, t.batch.rows[t.next:t.next+n]...)
	t.next += n
	return batch
}

// decoding is the goroutines that read one CSV stream.
type decoding struct {
	name       string
	comma      rune
	header     []string // the mapped header, which gocsv reads before each chunk
	columns    int
	defaults   Defaults
	fill       record // the file's partitions, by field
	chunkBytes int

	jobs    chan *chunk
	results chan chan decoded // in input order
	quit    chan struct{}
	stop    sync.Once
	workers sync.WaitGroup
	split   chan struct{} // closed when the splitting goroutine returns

	freeData chan []byte
	freeRows chan []Row
}

// start runs the splitting goroutine over br, whose next byte is on line,
// and workers to decode its chunks.
func (d *decoding) start(br *bufio.Reader, line, lastRecord int64, workers int) {
	d.jobs = make(chan *chunk, workers)
	d.results = make(chan chan decoded, 2*workers)
	d.quit = make(chan struct{})
	d.split = make(chan struct{})
	d.freeData = make(chan []byte, 4*workers)
	d.freeRows = make(chan []Row, 4*workers)
	go d.splitStream(br, line, lastRecord)
	for range workers {
		d.workers.Go(d.work)
	}
}

// halt stops the goroutines. The splitting one may be blocked reading; it
// returns once its read does.
func (d *decoding) halt() {
	d.stop.Do(func() { close(d.quit) })
	d.workers.Wait()
}

// splitStream cuts the stream into chunks and hands each to a worker and,
// in the same order, to Next. lastRecord is the line the last whole record
// read (the header) starts on, for errors.
func (d *decoding) splitStream(br *bufio.Reader, line, lastRecord int64) {
	defer close(d.split)
	defer close(d.results)
	defer close(d.jobs)
	for {
		c := &chunk{line: line, res: make(chan decoded, 1)}
		select {
		case c.data = <-d.freeData:
		default:
			c.data = make([]byte, 0, d.chunkBytes+64<<10)
		}
		var err error
		for len(c.data) < d.chunkBytes && err == nil {
			start, startLine := len(c.data), line
			c.data, line, err = readRecord(br, c.data, line, d.comma)
			switch {
			case err == nil || errors.Is(err, io.EOF):
				lastRecord = startLine
			case errors.Is(err, errRecordTooLong):
				c.data = c.data[:start]
				err = fmt.Errorf("the record after line %d is longer than %d MiB: is a quote left open?", lastRecord, MaxRecordBytes>>20)
			default:
				c.data = c.data[:start]
				err = fmt.Errorf("unreadable after line %d: %w", lastRecord, readError(err))
			}
		}
		if len(c.data) > 0 && !d.send(c) {
			return
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			res := make(chan decoded, 1)
			res <- decoded{err: err}
			select {
			case d.results <- res:
			case <-d.quit:
			}
			return
		}
	}
}

// send queues a chunk for a worker and its rows for Next; it reports false
// once the reading is stopped.
func (d *decoding) send(c *chunk) bool {
	select {
	case d.results <- c.res:
	case <-d.quit:
		return false
	}
	select {
	case d.jobs <- c:
		return true
	case <-d.quit:
		return false
	}
}

// readRecord appends the lines of one record to buf and returns them, with
// the line after them. It reports io.EOF at the end of the stream (the
// record, if any, is in buf) and errRecordTooLong past MaxRecordBytes.
func readRecord(br *bufio.Reader, buf []byte, line int64, comma rune) ([]byte, int64, error) {
	start := len(buf)
	inQuotes := false
	for {
		lineStart := len(buf)
		for {
			part, err := br.ReadSlice('\n')
			buf = append(buf, part...)
			if len(buf)-start > MaxRecordBytes {
				return buf, line, errRecordTooLong
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil {
				if errors.Is(err, io.EOF) && len(buf) == start {
					return buf, line, io.EOF
				}
				return buf, line, err
			}
			break
		}
		line++
		inQuotes = quotedAtEnd(buf[lineStart:], inQuotes, comma)
		if !inQuotes {
			return buf, line, nil
		}
	}
}

// quotedAtEnd reports whether a record is inside a quoted field at the end
// of line, given whether it was at the line's start: only then does the
// record go on into the next line. It follows encoding/csv (LazyQuotes off),
// which ends a record at the end of the line where it meets a malformed
// quote.
func quotedAtEnd(line []byte, inQuotes bool, comma rune) bool {
	if !inQuotes && bytes.IndexByte(line, '"') < 0 {
		return false // the common case: no quote, so no quoted field
	}
	commaLen := utf8.RuneLen(comma)
	// encoding/csv reads "\r\n" as "\n".
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	i := 0
	for {
		if inQuotes {
			j := bytes.IndexByte(line[i:], '"')
			if j < 0 {
				return true // the field's text goes on in the next line
			}
			i += j + 1
			switch {
			case i < len(line) && line[i] == '"':
				i++ // a doubled quote
			case nextRune(line[i:]) == comma:
				i += commaLen
				inQuotes = false
			default:
				return false // the end of the line, or a malformed quote
			}
			continue
		}
		if i < len(line) && line[i] == '"' {
			i++
			inQuotes = true
			continue
		}
		j := bytes.IndexRune(line[i:], comma)
		if j < 0 || bytes.IndexByte(line[i:i+j], '"') >= 0 {
			return false // the last field, or a bare quote
		}
		i += j + commaLen
	}
}

// nextRune is the rune b starts with, as encoding/csv decodes it.
func nextRune(b []byte) rune {
	r, _ := utf8.DecodeRune(b)
	return r
}

// work decodes chunks until the stream ends or reading stops.
func (d *decoding) work() {
	w := worker{v: newValidator(d.defaults)}
	w.v.fillWith(d.fill)
	for {
		select {
		case c, ok := <-d.jobs:
			if !ok {
				return
			}
			c.res <- d.decode(c, &w)
			if cap(c.data) <= 2*d.chunkBytes+64<<10 { // not one grown by a huge record
				select {
				case d.freeData <- c.data[:0]:
				default:
				}
			}
		case <-d.quit:
			return
		}
	}
}

// worker is what a decoding goroutine reuses from chunk to chunk.
type worker struct {
	v       validator
	fields  []string   // the text of the chunk's records
	records [][]string // the header, then the chunk's well-formed records
	lines   []int64    // the line each well-formed record starts on
	bad     []Row      // malformed records, as invalid rows
	badAt   []int      // how many well-formed records come before each
	recs    []csvRecord
	rec     record // the record being validated: text cells only
}

// decode reads a chunk's records with encoding/csv and has gocsv decode
// the well-formed ones, behind the mapped header.
func (d *decoding) decode(c *chunk, w *worker) decoded {
	cr := csv.NewReader(bytes.NewReader(c.data))
	cr.ReuseRecord = true
	cr.Comma = d.comma
	cr.FieldsPerRecord = d.columns
	w.fields, w.records, w.lines = w.fields[:0], append(w.records[:0], d.header), w.lines[:0]
	w.bad, w.badAt = w.bad[:0], w.badAt[:0]
	for {
		rec, err := cr.Read()
		if err == nil {
			line, _ := cr.FieldPos(0)
			w.lines = append(w.lines, c.line+int64(line)-1)
			// The fields of all records share one backing array, kept
			// for the next chunk; the text is the records' own.
			w.fields = append(w.fields, rec...)
			continue
		}
		var pe *csv.ParseError
		if errors.Is(err, io.EOF) {
			break
		}
		if !errors.As(err, &pe) || pe.Err == nil || !isRecordProblem(pe.Err) {
			return decoded{err: fmt.Errorf("read the records from line %d: %w", c.line, err)}
		}
		at := *pe
		at.StartLine += int(c.line) - 1
		at.Line += int(c.line) - 1
		w.bad = append(w.bad, Row{Pos: Position{File: d.name, Line: int64(at.StartLine)}, Err: &RecordError{Columns: d.columns, Err: &at}})
		w.badAt = append(w.badAt, len(w.lines))
	}
	// Every well-formed record has the header's number of fields.
	for n := 0; n < len(w.fields); n += d.columns {
		w.records = append(w.records, w.fields[n:n+d.columns:n+d.columns])
	}
	w.recs = w.recs[:cap(w.recs)]
	if err := gocsv.UnmarshalDecoder(chunkRecords(w.records), &w.recs); err != nil {
		return decoded{err: fmt.Errorf("decode the records from line %d: %w", c.line, err)}
	}
	var rows []Row
	select {
	case rows = <-d.freeRows:
	default:
		rows = make([]Row, 0, len(w.lines)+len(w.bad))
	}
	bad := 0
	for i, line := range w.lines {
		for bad < len(w.bad) && w.badAt[bad] == i {
			rows = append(rows, w.bad[bad])
			bad++
		}
		rec, r := &w.recs[i], &w.rec
		r[fUserID].text, r[fDomain].text, r[fSegID].text, r[fSegCode].text = rec.UserID, rec.Domain, rec.SegID, rec.SegCode
		r[fMemberID].text, r[fValue].text, r[fExpiration].text = rec.MemberID, rec.Value, rec.Expiration
		rows = append(rows, w.v.row(Position{File: d.name, Line: line}, r))
	}
	rows = append(rows, w.bad[bad:]...)
	return decoded{rows: rows}
}

// chunkRecords hands gocsv a chunk's records, header first.
type chunkRecords [][]string

// GetCSVRows implements gocsv.Decoder.
func (r chunkRecords) GetCSVRows() ([][]string, error) { return r, nil }
