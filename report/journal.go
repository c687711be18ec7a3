package report

import (
	"bufio"
	"bytes"
	"crypto/sha256"
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
	"syscall"
	"time"
)

// JournalFile is the journal's name inside --state-dir.
const JournalFile = "journal"

// journalVersion changes when the journal's format does.
const journalVersion = 1

// Input identifies one input file as it was when a run started.
type Input struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	// Sample is a SHA-256 over the size and the first and last MiB: a change
	// of content that keeps size and time is still caught where it is most
	// likely (appended or rewritten files), without reading all of a large
	// export at every start.
	Sample string `json:"sample"`
}

// Identity is what must not change between a run and its resumption: the
// inputs, and the settings that decide which requests are made.
type Identity struct {
	Inputs   []Input `json:"inputs"`
	Settings string  `json:"settings"`
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
	return Input{Path: abs, Size: info.Size(), ModTime: info.ModTime().UTC(), Sample: hex.EncodeToString(h.Sum(nil))}, nil
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

// Journal records, durably, which requests the service acknowledged, so that
// a run started again after a crash sends only the rest. Each record is
// appended and fsynced before the request counts as done; a record torn by a
// crash is ignored on reading.
//
// Its methods are safe for concurrent use.
type Journal struct {
	mu   sync.Mutex
	dir  string
	f    *os.File
	lock *os.File
	done map[int]bool
	buf  []byte
	// resumed is set when an earlier run's journal was found and kept.
	resumed bool
}

type journalHeader struct {
	Version  int      `json:"version"`
	Identity Identity `json:"identity"`
}

// OpenJournal opens the journal in dir for a run with this identity. A
// journal left by a run with another identity is refused with a
// *ChangedError, unless restart, which starts it anew.
func OpenJournal(dir string, id Identity, restart bool) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--state-dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--state-dir: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("--state-dir %s: another rtseg run is using it", dir)
	}
	j := &Journal{dir: dir, lock: lock, done: map[int]bool{}}
	path := filepath.Join(dir, JournalFile)
	if !restart {
		err = j.load(path, id)
	}
	if restart || errors.Is(err, os.ErrNotExist) {
		err = j.create(path, id)
	}
	if err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
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
	if nl < 0 || json.Unmarshal(data[:nl], &h) != nil || h.Version != journalVersion {
		// A crash while the header was written leaves nothing acknowledged.
		return os.ErrNotExist
	}
	if what := changed(h.Identity, id); what != "" {
		return &ChangedError{Dir: j.dir, What: what}
	}
	good := nl + 1
	sc := bufio.NewScanner(bytes.NewReader(data[good:]))
	for sc.Scan() {
		seq, ok := parseRecord(sc.Text())
		if !ok || good+len(sc.Bytes()) >= len(data) { // torn: no newline after it
			break
		}
		j.done[seq] = true
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
	b, err := json.Marshal(journalHeader{Version: journalVersion, Identity: id})
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
	j.done = map[int]bool{}
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
	if was.Settings != now.Settings {
		return "the flags that decide the requests changed"
	}
	if len(was.Inputs) != len(now.Inputs) {
		return fmt.Sprintf("the inputs changed (%d files then, %d now)", len(was.Inputs), len(now.Inputs))
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

func journalRecord(seq int) string {
	body := "done " + strconv.Itoa(seq)
	return fmt.Sprintf("%s %08x", body, crc32.ChecksumIEEE([]byte(body)))
}

func parseRecord(line string) (int, bool) {
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return 0, false
	}
	body := line[:i]
	seqText, ok := strings.CutPrefix(body, "done ")
	if !ok {
		return 0, false
	}
	seq, err := strconv.Atoi(seqText)
	if err != nil || journalRecord(seq) != line {
		return 0, false
	}
	return seq, true
}

// Done reports whether request seq was acknowledged in an earlier run.
func (j *Journal) Done(seq int) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.done[seq]
}

// Resumed reports whether the journal was left by an earlier run of the
// same inputs, which may have been sending until a moment ago.
func (j *Journal) Resumed() bool { return j.resumed }

// Acknowledged reports how many requests the journal holds.
func (j *Journal) Acknowledged() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.done)
}

// Record appends request seq as acknowledged and syncs it to disk.
func (j *Journal) Record(seq int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.buf = append(append(j.buf[:0], journalRecord(seq)...), '\n')
	if _, err := j.f.Write(j.buf); err != nil {
		return fmt.Errorf("--state-dir: write journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("--state-dir: sync journal: %w", err)
	}
	j.done[seq] = true
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
