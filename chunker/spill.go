package chunker

import (
	"bufio"
	"bytes"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// A run is a temporary file of records sorted by user, in a compact binary
// form that keeps every field of a valid row:
//
//	flags     byte: hasValue, hasExpiration, newUser
//	domain    uvarint index, user ID uvarint length and bytes (newUser only)
//	seq       uvarint (input order)
//	file      uvarint index; line varint
//	seg_id    varint; member_id varint
//	seg_code  uvarint length and bytes
//	value     varint (hasValue only); expiration varint (hasExpiration only)
//
// File names and domains are numbered in the grouper's memory.
type run struct {
	f    *os.File
	name string // set while the file's name is still in the directory
	rows int64
}

const (
	readBuffer  = 32 << 10
	writeBuffer = 64 << 10
)

// spill sorts the records in memory, writes them as a run and empties the
// buffers. On failure the records stay in memory and no more spills are
// tried.
func (g *Grouper) spill() error {
	g.sortRecs()
	w, err := g.createRun()
	if err == nil {
		for i := range g.recs {
			r := &g.recs[i]
			if err = w.write(r, g.userOf(r), g.codeOf(r)); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = w.finish()
	}
	if err != nil {
		if w != nil {
			g.closeRun(w.run)
		}
		g.err = &SpillError{Dir: g.dir, Err: err}
		return g.err
	}
	n, text := len(g.recs), len(g.arena)
	g.recs, g.arena = g.recs[:0], g.arena[:0]
	g.rebalance(n, text)
	if g.onSpill != nil {
		g.onSpill()
	}
	return g.addRun(0, w.run)
}

// addRun files a run at a level, merging the level into one run of the
// next when it is full.
func (g *Grouper) addRun(level int, r *run) error {
	for len(g.levels) <= level {
		g.levels = append(g.levels, nil)
	}
	g.levels[level] = append(g.levels[level], r)
	if len(g.levels[level]) < fanIn {
		return nil
	}
	runs := g.levels[level]
	merged, err := g.mergeRuns(runs)
	if err != nil {
		// The runs stay, to be merged at Close; no more spills.
		g.err = err
		return err
	}
	g.levels[level] = nil
	for _, r := range runs {
		g.closeRun(r)
	}
	return g.addRun(level+1, merged)
}

// mergeRuns merges runs into one new run.
func (g *Grouper) mergeRuns(runs []*run) (*run, error) {
	w, err := g.createRun()
	if err != nil {
		return nil, &SpillError{Dir: g.dir, Err: err}
	}
	srcs := make([]source, 0, len(runs))
	for _, r := range runs {
		src, err := r.reader()
		if err != nil {
			g.closeRun(w.run)
			return nil, g.readErr(err)
		}
		srcs = append(srcs, src)
	}
	err = g.merge(srcs, func(it *item) error { return w.write(&it.rec, it.user, it.code) })
	if err == nil {
		err = w.finish()
	}
	if err != nil {
		g.closeRun(w.run)
		if se := (*SpillError)(nil); errors.As(err, &se) {
			return nil, err
		}
		return nil, &SpillError{Dir: g.dir, Err: err}
	}
	return w.run, nil
}

func (g *Grouper) readErr(err error) error {
	return &SpillError{Dir: g.dir, Err: fmt.Errorf("read back: %w", err)}
}

// SpillError reports rows that could not be written to, or read back from,
// the temporary directory.
type SpillError struct {
	Dir string
	Err error
}

func (e *SpillError) Error() string { return fmt.Sprintf("spill rows to %s: %v", e.Dir, e.Err) }

func (e *SpillError) Unwrap() error { return e.Err }

// Hint says how to give the grouper the room it needs, or do without it.
func (e *SpillError) Hint() string {
	return "point --tmp-dir at a directory with room to spare, raise --group-memory, or give input sorted by user with --sorted"
}

// createRun creates a run file and, where the system allows, removes its
// name at once.
func (g *Grouper) createRun() (*runWriter, error) {
	f, err := os.CreateTemp(g.dir, "rtseg-spill-*")
	if err != nil {
		return nil, err
	}
	g.open++
	g.spills++
	r := &run{f: f, name: f.Name()}
	if !g.keepNames && os.Remove(r.name) == nil {
		r.name = ""
	}
	return &runWriter{run: r, w: bufio.NewWriterSize(f, writeBuffer)}, nil
}

// closeRun closes a run's file and removes its name if it is still there.
func (g *Grouper) closeRun(r *run) error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	g.open--
	if r.name != "" {
		err = errors.Join(err, os.Remove(r.name))
		r.name = ""
	}
	return err
}

// closeRuns closes every run.
func (g *Grouper) closeRuns() error {
	var errs []error
	for _, level := range g.levels {
		for _, r := range level {
			errs = append(errs, g.closeRun(r))
		}
	}
	g.levels = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove rows spilled to %s: %w", g.dir, err)
	}
	return nil
}

// runWriter writes records to a run.
type runWriter struct {
	run        *run
	w          *bufio.Writer
	buf        []byte
	lastDomain uint16
	lastUser   []byte
}

func (w *runWriter) write(r *rec, user, code []byte) error {
	b := w.buf[:0]
	flags := r.flags &^ newUser
	fresh := w.run.rows == 0 || r.domain != w.lastDomain || !bytes.Equal(user, w.lastUser)
	if fresh {
		flags |= newUser
	}
	b = append(b, flags)
	if fresh {
		b = binary.AppendUvarint(b, uint64(r.domain))
		b = binary.AppendUvarint(b, uint64(len(user)))
		b = append(b, user...)
		w.lastDomain, w.lastUser = r.domain, append(w.lastUser[:0], user...)
	}
	b = binary.AppendUvarint(b, r.seq)
	b = binary.AppendUvarint(b, uint64(r.file))
	b = binary.AppendVarint(b, r.line)
	b = binary.AppendVarint(b, r.segID)
	b = binary.AppendVarint(b, r.memberID)
	b = binary.AppendUvarint(b, uint64(len(code)))
	b = append(b, code...)
	if flags&hasValue != 0 {
		b = binary.AppendVarint(b, int64(r.value))
	}
	if flags&hasExpiration != 0 {
		b = binary.AppendVarint(b, int64(r.exp))
	}
	w.buf = b
	w.run.rows++
	_, err := w.w.Write(b)
	return err
}

// finish flushes the run and rewinds it for reading.
func (w *runWriter) finish() error {
	if err := w.w.Flush(); err != nil {
		return err
	}
	_, err := w.run.f.Seek(0, io.SeekStart)
	return err
}

// item is a record met in a merge, with its text.
type item struct {
	rec
	user, code []byte
}

// source yields records in user order.
type source interface {
	// next moves to the next record: false at the end.
	next() (bool, error)
	item() *item
}

// reader opens a run for reading from its start.
func (r *run) reader() (*runSource, error) {
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return &runSource{br: bufio.NewReaderSize(r.f, readBuffer), left: r.rows}, nil
}

// runSource reads a run's records back.
type runSource struct {
	br   *bufio.Reader
	left int64
	it   item
}

func (s *runSource) item() *item { return &s.it }

func (s *runSource) next() (bool, error) {
	if s.left == 0 {
		return false, nil
	}
	s.left--
	err := s.decode()
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err == nil, err
}

func (s *runSource) decode() error {
	it := &s.it
	flags, err := s.br.ReadByte()
	if err != nil {
		return err
	}
	it.flags = flags &^ newUser
	if flags&newUser != 0 {
		d, err := binary.ReadUvarint(s.br)
		if err != nil {
			return err
		}
		it.domain = uint16(d)
		if it.user, err = s.bytes(it.user); err != nil {
			return err
		}
	}
	var u [2]uint64
	for i := range u {
		if u[i], err = binary.ReadUvarint(s.br); err != nil {
			return err
		}
	}
	it.seq, it.file = u[0], uint32(u[1])
	var v [3]int64
	for i := range v {
		if v[i], err = binary.ReadVarint(s.br); err != nil {
			return err
		}
	}
	it.line, it.segID, it.memberID = v[0], v[1], v[2]
	if it.code, err = s.bytes(it.code); err != nil {
		return err
	}
	it.value, it.exp = 0, 0
	if flags&hasValue != 0 {
		n, err := binary.ReadVarint(s.br)
		if err != nil {
			return err
		}
		it.value = int32(n)
	}
	if flags&hasExpiration != 0 {
		n, err := binary.ReadVarint(s.br)
		if err != nil {
			return err
		}
		it.exp = int32(n)
	}
	return nil
}

// bytes reads a length-prefixed byte string, reusing buf's memory when it
// is large enough.
func (s *runSource) bytes(buf []byte) ([]byte, error) {
	n, err := binary.ReadUvarint(s.br)
	if err != nil {
		return buf, err
	}
	if n > maxArena {
		return buf, fmt.Errorf("corrupt run: a field of %d bytes", n)
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err = io.ReadFull(s.br, buf)
	return buf, err
}

// memSource yields the grouper's sorted records in memory.
type memSource struct {
	g  *Grouper
	i  int
	it item
}

func (s *memSource) item() *item { return &s.it }

func (s *memSource) next() (bool, error) {
	s.i++
	if s.i >= len(s.g.recs) {
		return false, nil
	}
	r := &s.g.recs[s.i]
	s.it = item{rec: *r, user: s.g.userOf(r), code: s.g.codeOf(r)}
	return true, nil
}

// merge reads several sources, each already in user order, and hands their
// records to yield one at a time, in user order across all of them.
func (g *Grouper) merge(srcs []source, yield func(*item) error) error {
	h := &mergeHeap{g: g}
	for _, s := range srcs {
		ok, err := s.next()
		if err != nil {
			return g.readErr(err)
		}
		if ok {
			h.srcs = append(h.srcs, s)
		}
	}
	heap.Init(h)
	for len(h.srcs) > 0 {
		top := h.srcs[0]
		if err := yield(top.item()); err != nil {
			return err
		}
		ok, err := top.next()
		if err != nil {
			return g.readErr(err)
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

type mergeHeap struct {
	g    *Grouper
	srcs []source
}

func (h *mergeHeap) Len() int { return len(h.srcs) }
func (h *mergeHeap) Less(i, j int) bool {
	a, b := h.srcs[i].item(), h.srcs[j].item()
	if a.domain != b.domain {
		return strings.Compare(h.g.domains.list[a.domain], h.g.domains.list[b.domain]) < 0
	}
	if c := bytes.Compare(a.user, b.user); c != 0 {
		return c < 0
	}
	return cmp.Less(a.seq, b.seq)
}
func (h *mergeHeap) Swap(i, j int) { h.srcs[i], h.srcs[j] = h.srcs[j], h.srcs[i] }
func (h *mergeHeap) Push(x any)    { h.srcs = append(h.srcs, x.(source)) }
func (h *mergeHeap) Pop() any {
	s := h.srcs[len(h.srcs)-1]
	h.srcs = h.srcs[:len(h.srcs)-1]
	return s
}
