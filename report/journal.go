package report

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
)

// JournalFile is the journal's name inside --state-dir.
const JournalFile = "journal"

// journalVersion changes when the journal's format does.
const journalVersion = 2

// Input identifies one input file as it was when a run started.
type Input struct {
	Path    string    `json:"path"` // absolute, with forward slashes on every platform
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	// Sample is a SHA-256 over the size and the first and last MiB: a change
	// of content that keeps size and time is still caught where it is most
	// likely (appended or rewritten files), without reading all of a large
	// export at every start.
	Sample string `json:"sample"`
	// name is the file as the run names it in rows' positions.
	name string
}

// Identity is what must not change between a run and its resumption: the
// inputs, and whether they are read as sorted by user. Other flags may
// change: the journal knows requests by their content.
//
// --sorted may not change because a run without it sends only the latest
// value of each user and segment, whose rows the journal does not keep:
// resumed with --sorted, a user that comes back could have an earlier value
// sent after that later one was acknowledged.
type Identity struct {
	Inputs []Input `json:"inputs"`
	Sorted bool    `json:"sorted"`
	// Base is, for rtseg sync, the delivered state the run compares the
	// inputs with (a fingerprint, "none" for no state). A journal whose
	// base is no longer the state is of a run that finished and replaced
	// the state, but could not remove its journal: it is dropped.
	Base string `json:"base,omitempty"`
}

// Identify fingerprints the files a run reads, in order, and notes whether
// the run reads them as sorted by user. Standard input cannot be resumed:
// it reads differently every time.
func Identify(files []string, sorted bool) (Identity, error) {
	id := Identity{Sorted: sorted}
	for _, f := range files {
		in, err := identifyFile(f)
		if err != nil {
			return Identity{}, err
		}
		id.Inputs = append(id.Inputs, in)
	}
	return id, nil
}

// identifyFile fingerprints one local file of a run.
func identifyFile(f string) (Input, error) {
	if f == reader.Stdin {
		return Input{}, errors.New("--state-dir: standard input cannot be resumed; write it to a file first")
	}
	in, err := Fingerprint(f)
	if err != nil {
		return Input{}, fmt.Errorf("--state-dir: %w", err)
	}
	in.name = f
	return in, nil
}

// IdentifyReader is Identify for the files a reader reads: an object in a
// store is known by its URL, size, modification time and version (ETag,
// or generation), and the reader then reads that version or fails.
func IdentifyReader(rd *reader.Reader, sorted bool) (Identity, error) {
	files := rd.Files()
	id := Identity{Sorted: sorted}
	for i, f := range files {
		o, ok, err := rd.Object(i)
		switch {
		case err != nil:
			return Identity{}, fmt.Errorf("--state-dir: %w", err)
		case !ok:
			in, err := identifyFile(f)
			if err != nil {
				return Identity{}, err
			}
			id.Inputs = append(id.Inputs, in)
			continue
		}
		// No time: a listing and a HEAD give it to different precisions.
		id.Inputs = append(id.Inputs, Input{Path: o.URL, Size: o.Size, Sample: "version " + o.Version, name: f})
	}
	return id, nil
}

// sampleSize is how much of each end of a file the fingerprint reads.
const sampleSize = 1 << 20

// Fingerprint describes a file for the journal.
func Fingerprint(path string) (Input, error) {
	f, err := os.Open(path)
	if err != nil {
		return Input{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Input{}, err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d\n", info.Size())
	if _, err := io.CopyN(h, f, sampleSize); err != nil && !errors.Is(err, io.EOF) {
		return Input{}, err
	}
	if info.Size() > 2*sampleSize {
		if _, err := f.Seek(-sampleSize, io.SeekEnd); err != nil {
			return Input{}, err
		}
		if _, err := io.CopyN(h, f, sampleSize); err != nil && !errors.Is(err, io.EOF) {
			return Input{}, err
		}
	} else if info.Size() > sampleSize {
		if _, err := io.Copy(h, f); err != nil {
			return Input{}, err
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return Input{Path: filepath.ToSlash(abs), Size: info.Size(), ModTime: info.ModTime().UTC(), Sample: hex.EncodeToString(h.Sum(nil))}, nil
}

// ChangedError refuses to resume a run whose inputs or settings changed.
type ChangedError struct {
	Dir  string
	What string
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("--state-dir %s: %s since the run it records", e.Dir, e.What)
}

// Hint says how to go on.
func (e *ChangedError) Hint() string {
	return "rerun with --restart to start over and send everything, or point --state-dir elsewhere"
}

// Journal records, durably, which requests the service acknowledged, so
// that a run started again after a crash sends only the rest. A request is
// known by a digest of its exact body and of where its rows came from, not
// by its place in the run: a run resumed with other flags (workers, limits,
// --max-users) sends again whatever now packs differently. Each record is appended and fsynced
// before the request counts as done; a record torn by a crash is ignored on
// reading.
//
// A request that may repeat a user of an earlier request (chunker's
// Ordered) carries later values of associations. The journal keeps where
// each of its rows came from, so that a resumed run never sends an earlier
// value of an association after the service acknowledged a later one (see
// Later).
//
// Its methods are safe for concurrent use.
type Journal struct {
	dir  string
	lock *flock.Flock
	// acked holds the requests earlier runs recorded: this run asks only
	// about those, since it packs each of its own requests once. Like
	// later and files, it is filled when the journal is opened and only
	// read after, so asking takes no lock.
	acked map[digest]struct{}
	// later holds, for each association in an acknowledged Ordered
	// request, the position of the latest such row in input order.
	later map[uint64]place
	// names are the inputs in the run's order, and files gives each
	// one's place in it.
	names []string
	files map[string]int
	// resumed is set when an earlier run's journal was found and kept.
	resumed bool
	// started is when the run that began the journal started.
	started time.Time

	mu sync.Mutex // guards what Record changes
	f  *os.File
	// recorded counts the requests this run recorded.
	recorded int
	buf      []byte
}

// digest identifies a request: the first 128 bits of the SHA-256 of its
// body and of the places of its rows. The places tell apart two requests
// with the same body, as when a user that comes back in sorted input has
// the value it had before another in between; they do not depend on flags
// that shape requests.
type digest [16]byte

func (j *Journal) digestOf(req *chunker.Request) digest {
	h := sha256.New()
	h.Write(req.Body)
	var b [12]byte
	for _, e := range req.Entries {
		for i := range e.Rows {
			p := j.placeOf(e.Rows[i].Pos)
			binary.BigEndian.PutUint32(b[:4], uint32(p.file))
			binary.BigEndian.PutUint64(b[4:], uint64(p.line))
			h.Write(b[:])
		}
	}
	var d digest
	copy(d[:], h.Sum(nil))
	return d
}

// place is a row's position in input order: the file's index among the
// run's inputs, then the line.
type place struct {
	file int32
	line int64
}

func (p place) before(q place) bool {
	return p.file < q.file || p.file == q.file && p.line < q.line
}

type journalHeader struct {
	Version  int      `json:"version"`
	Identity Identity `json:"identity"`
	// Started is when the run that began the journal started.
	Started time.Time `json:"started,omitzero"`
}

// JournalOptions say how to open a journal.
type JournalOptions struct {
	// Restart starts the journal anew, whatever it records.
	Restart bool
	// LockWait is how long to wait for another run to release the state
	// directory: one that was just killed may hold it while it exits.
	LockWait time.Duration
	// Waiting, if set, is told that the directory is held, by the process
	// with this ID ("" if unknown), before the wait.
	Waiting func(pid string)
}

// OpenJournal opens the journal in dir for a run with this identity. A
// journal left by a run with other inputs is refused with a *ChangedError,
// unless o.Restart, which starts it anew.
func OpenJournal(dir string, id Identity, o JournalOptions) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--state-dir: %w", err)
	}
	lock, err := lockStateDir(dir, o)
	if err != nil {
		return nil, err
	}
	j := &Journal{dir: dir, lock: lock, files: map[string]int{}}
	j.reset()
	for i, in := range id.Inputs {
		j.names = append(j.names, in.name)
		j.files[in.name] = i
	}
	path := filepath.Join(dir, JournalFile)
	if !o.Restart {
		err = j.load(path, id)
	}
	if o.Restart || errors.Is(err, os.ErrNotExist) {
		err = j.create(path, id)
	}
	if err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

func (j *Journal) reset() {
	j.acked = map[digest]struct{}{}
	j.later = map[uint64]place{}
}

// load reads an existing journal, keeps its records and opens it to append
// after the last whole record.
func (j *Journal) load(path string, id Identity) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	nl := bytes.IndexByte(data, '\n')
	var h journalHeader
	if nl < 0 || json.Unmarshal(data[:nl], &h) != nil {
		// A crash while the header was written leaves nothing
		// acknowledged.
		return os.ErrNotExist
	}
	if h.Version != journalVersion {
		return &ChangedError{Dir: j.dir, What: fmt.Sprintf("the journal's format changed (version %d then, %d now)", h.Version, journalVersion)}
	}
	if h.Identity.Base != id.Base {
		return os.ErrNotExist // the run it records has finished
	}
	if what := changed(h.Identity, id); what != "" {
		return &ChangedError{Dir: j.dir, What: what}
	}
	j.started = h.Started
	good := nl + 1
	sc := bufio.NewScanner(bytes.NewReader(data[good:]))
	sc.Buffer(nil, len(data))
	for sc.Scan() {
		// A record without its newline was torn by a crash, whatever it
		// holds: it is cut off below, so it must not count.
		if good+len(sc.Bytes()) >= len(data) || !j.parseRecord(sc.Text()) {
			break
		}
		good += len(sc.Bytes()) + 1
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if err := f.Truncate(int64(good)); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return err
	}
	j.f = f
	j.resumed = true
	return nil
}

func (j *Journal) create(path string, id Identity) error {
	j.started = time.Now().UTC()
	b, err := json.Marshal(journalHeader{Version: journalVersion, Identity: id, Started: j.started})
	if err != nil {
		return err
	}
	tmp := path + ".new"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("--state-dir: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("--state-dir: %w", err)
	}
	syncDir(j.dir)
	j.f = f
	j.reset()
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// changed names the first difference between what was recorded and now.
func changed(was, now Identity) string {
	if was.Sorted != now.Sorted {
		return fmt.Sprintf("--sorted changed (%s then, %s now)", sortedText(was.Sorted), sortedText(now.Sorted))
	}
	if len(was.Inputs) != len(now.Inputs) {
		return fmt.Sprintf("the inputs changed (%s then, %d now)", count(len(was.Inputs), "file"), len(now.Inputs))
	}
	for i, w := range was.Inputs {
		n := now.Inputs[i]
		switch {
		case w.Path != n.Path:
			return fmt.Sprintf("the inputs changed (%s then, %s now)", w.Path, n.Path)
		case w.Size != n.Size:
			return fmt.Sprintf("input %s changed size (%d bytes then, %d now)", n.Path, w.Size, n.Size)
		case !w.ModTime.Equal(n.ModTime):
			return fmt.Sprintf("input %s was modified (%s then, %s now)", n.Path, w.ModTime.Format(time.RFC3339), n.ModTime.Format(time.RFC3339))
		case w.Sample != n.Sample:
			return fmt.Sprintf("input %s changed content", n.Path)
		}
	}
	return ""
}

func sortedText(sorted bool) string {
	if sorted {
		return "given"
	}
	return "not given"
}

// A record is one line: "ack DIGEST" for a request body, then, for an
// Ordered request, " later" and its rows as (association, file, line)
// triples in base64, then the CRC-32 of all that.
const (
	ackPrefix   = "ack "
	laterMarker = " later "
	laterSize   = 8 + 4 + 8
)

func (j *Journal) appendRecord(b []byte, d digest, req *chunker.Request) []byte {
	start := len(b)
	b = append(b, ackPrefix...)
	b = hex.AppendEncode(b, d[:])
	if req.Ordered {
		raw := make([]byte, 0, req.Rows()*laterSize)
		for _, e := range req.Entries {
			for i := range e.Rows {
				row := &e.Rows[i]
				p := j.placeOf(row.Pos)
				raw = binary.BigEndian.AppendUint64(raw, associationKey(row))
				raw = binary.BigEndian.AppendUint32(raw, uint32(p.file))
				raw = binary.BigEndian.AppendUint64(raw, uint64(p.line))
			}
		}
		b = append(b, laterMarker...)
		b = base64.RawStdEncoding.AppendEncode(b, raw)
	}
	return fmt.Appendf(b, " %08x\n", crc32.ChecksumIEEE(b[start:]))
}

// parseRecord takes one record into the journal; it reports false for a
// record that is not whole.
func (j *Journal) parseRecord(line string) bool {
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return false
	}
	body := line[:i]
	if fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(body))) != line[i+1:] {
		return false
	}
	body, ok := strings.CutPrefix(body, ackPrefix)
	if !ok {
		return false
	}
	hexDigest, rows, ordered := strings.Cut(body, laterMarker)
	var d digest
	if n, err := hex.Decode(d[:], []byte(hexDigest)); err != nil || n != len(d) {
		return false
	}
	var raw []byte
	if ordered {
		var err error
		if raw, err = base64.RawStdEncoding.DecodeString(rows); err != nil || len(raw)%laterSize != 0 {
			return false
		}
	}
	j.acked[d] = struct{}{}
	for ; len(raw) > 0; raw = raw[laterSize:] {
		key := binary.BigEndian.Uint64(raw)
		p := place{file: int32(binary.BigEndian.Uint32(raw[8:])), line: int64(binary.BigEndian.Uint64(raw[12:]))}
		j.noteLater(key, p)
	}
	return true
}

func (j *Journal) noteLater(key uint64, p place) {
	if was, ok := j.later[key]; !ok || was.before(p) {
		j.later[key] = p
	}
}

func (j *Journal) placeOf(pos reader.Position) place {
	return place{file: int32(j.files[pos.File]), line: pos.Line}
}

// Acknowledged reports whether the service acknowledged, in an earlier run,
// this exact request: the same body holding the same rows.
func (j *Journal) Acknowledged(req *chunker.Request) bool {
	_, ok := j.acked[j.digestOf(req)]
	return ok
}

// Later reports whether the service acknowledged, in an earlier run, a
// later row for the same user and segment as row, and where that row is.
// Such a row must not be sent: its value would replace the later one.
func (j *Journal) Later(row *reader.Row) (reader.Position, bool) {
	if len(j.later) == 0 {
		return reader.Position{}, false
	}
	p, ok := j.later[associationKey(row)]
	if !ok || !j.placeOf(row.Pos).before(p) {
		return reader.Position{}, false
	}
	by := reader.Position{Line: p.line}
	if int(p.file) < len(j.names) {
		by.File = j.names[p.file]
	}
	return by, true
}

// associationKey hashes a row's user and segment with FNV-1a: the journal
// keeps it across runs, so the hash must not be seeded.
func associationKey(row *reader.Row) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * prime
		}
		h = (h ^ 0xff) * prime // a byte no valid field holds: "ab"+"c" differs from "a"+"bc"
	}
	add(row.Domain)
	add(row.UserID)
	add(row.SegCode)
	for _, n := range []uint64{uint64(row.SegID), uint64(row.MemberID)} {
		for k := 0; k < 8; k++ {
			h = (h ^ (n >> (8 * k) & 0xff)) * prime
		}
	}
	return h
}

// Resumed reports whether the journal was left by an earlier run of the
// same inputs, which may have been sending until a moment ago.
func (j *Journal) Resumed() bool { return j.resumed }

// Len reports how many requests the journal holds, from earlier runs and
// this one.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.acked) + j.recorded
}

// Record appends a request the service acknowledged, whole, and syncs it to
// disk.
func (j *Journal) Record(req *chunker.Request) error {
	d := j.digestOf(req)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.buf = j.appendRecord(j.buf[:0], d, req)
	if _, err := j.f.Write(j.buf); err != nil {
		return fmt.Errorf("--state-dir: write journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("--state-dir: sync journal: %w", err)
	}
	j.recorded++
	return nil
}

// Started is when the run that began the journal started: this run, or
// the earlier one it resumes. The zero time if unknown.
func (j *Journal) Started() time.Time { return j.started }

// Remove deletes the journal, for a run whose outcome is recorded
// elsewhere (rtseg sync's state), so that the next run starts afresh; the
// journal stays open until Close.
func (j *Journal) Remove() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := os.Remove(filepath.Join(j.dir, JournalFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--state-dir: remove journal: %w", err)
	}
	syncDir(j.dir)
	return nil
}

// Close closes the journal and releases the state directory.
func (j *Journal) Close() error {
	var err error
	if j.f != nil {
		err = j.f.Close()
	}
	if j.lock != nil {
		j.lock.Close()
	}
	return err
}

// lockStateDir takes the state directory's lock, waiting up to o.LockWait
// for the run that holds it, and then writes this process's ID beside it,
// for a run refused to name. (Not in the lock file itself: Windows locks
// its bytes against other handles.)
func lockStateDir(dir string, o JournalOptions) (*flock.Flock, error) {
	lock := flock.New(filepath.Join(dir, "lock"))
	path := filepath.Join(dir, "lock.pid")
	ok, err := lock.TryLock()
	if err == nil && !ok {
		holder := lockHolder(path)
		if o.Waiting != nil {
			o.Waiting(holder)
		}
		ctx, cancel := context.WithTimeout(context.Background(), o.LockWait)
		defer cancel()
		ok, err = lock.TryLockContext(ctx, 100*time.Millisecond)
		if !ok && errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
		if !ok && err == nil {
			if holder = lockHolder(path); holder != "" {
				holder = " (process " + holder + ")"
			}
			return nil, fmt.Errorf("--state-dir %s: another rtseg run%s is using it", dir, holder)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("--state-dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		lock.Close()
		return nil, fmt.Errorf("--state-dir: %w", err)
	}
	return lock, nil
}

// lockHolder is the process ID written in path, "" if none.
func lockHolder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	pid := strings.TrimSpace(string(b))
	if _, err := strconv.Atoi(pid); err != nil {
		return ""
	}
	return pid
}
