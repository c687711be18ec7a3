package report

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rtseg/rtseg/objstore"
)

// Outputs name the files a run writes its outcomes to; "" for none.
type Outputs struct {
	Report       string // --report
	ReportFormat string // --report-format: csv or jsonl
	ReportAll    bool   // --report-all
	Failed       string // --failed
	Summary      string // --summary, which Summary.Finish writes
	Metrics      string // --metrics-file, which Metrics writes
	HTML         string // --html, the run page, which Summary.Finish writes
	// UsersPerSecond is --users-per-second, which the page draws the
	// throughput against; 0 when nothing is sent.
	UsersPerSecond int
	RequestsDir    string // --requests-dir, which intake writes
	Force          bool   // --force: a RequestsDir holding files is fine
	// Acked, if set, takes the positions of the rows acknowledged (rtseg
	// sync).
	Acked *Acked
}

// Create creates the output files and starts a recorder writing them for
// command, and journaling acknowledged requests in j if it is not nil.
// Closing the recorder closes the files.
func (o Outputs) Create(command string, j *Journal) (*Recorder, error) {
	cfg := RecorderConfig{Command: command, All: o.ReportAll, Journal: j, Acked: o.Acked, UsersPerSecond: o.UsersPerSecond}
	var files []*pendingFile
	fail := func(err error) (*Recorder, error) {
		for _, f := range files {
			f.abort()
		}
		return nil, err
	}
	if o.Report != "" {
		f, err := createPending(o.Report)
		if err != nil {
			return fail(fmt.Errorf("--report: %w", err))
		}
		files = append(files, f)
		if cfg.Report, err = NewWriter(f, o.ReportFormat); err != nil {
			return fail(err)
		}
	}
	if o.Failed != "" {
		f, err := createPending(o.Failed)
		if err != nil {
			return fail(fmt.Errorf("--failed: %w", err))
		}
		files = append(files, f)
		if cfg.Failed, err = NewFailedWriter(f); err != nil {
			return fail(err)
		}
	}
	r := NewRecorder(cfg)
	r.files = files
	return r, nil
}

// closeFiles puts the files the recorder created in place, or if writing
// them failed (written is false), removes them, leaving what was there.
func (r *Recorder) closeFiles(written bool) error {
	var errs []error
	for _, f := range r.files {
		if !written {
			f.abort()
			continue
		}
		errs = append(errs, f.commit())
	}
	return errors.Join(errs...)
}

// Check refuses, before anything is read or sent, outputs that would
// overwrite an input or each other, and outputs that cannot be created:
// an output that is an input file, lies inside an input directory, matches
// an input glob, or is another output; a missing directory. inputs are the
// INPUT arguments as given ("-" is standard input). With force, the request
// files an earlier run left in RequestsDir are removed; without it, a
// RequestsDir that holds anything is refused.
func (o Outputs) Check(inputs []string) error {
	type output struct{ flag, path, real string }
	var outs []output
	for _, c := range []struct{ flag, path string }{
		{"--report", o.Report}, {"--failed", o.Failed}, {"--summary", o.Summary}, {"--metrics-file", o.Metrics},
		{"--html", o.HTML}, {"--requests-dir", o.RequestsDir},
	} {
		if c.path == "" {
			continue
		}
		if objstore.IsURL(c.path) {
			if c.flag == "--requests-dir" {
				return fmt.Errorf("--requests-dir %s: must be a local directory", objstore.Redact(c.path))
			}
			for _, prev := range outs {
				if prev.real == c.path {
					return fmt.Errorf("%s and %s are the same object: each output needs its own", prev.flag, c.flag)
				}
			}
			outs = append(outs, output{c.flag, c.path, c.path})
			continue
		}
		real, err := realPath(c.path)
		if err != nil {
			return fmt.Errorf("%s %s: %w", c.flag, c.path, err)
		}
		for _, prev := range outs {
			switch {
			case real == prev.real:
				return fmt.Errorf("%s %s and %s %s are the same file: each output needs its own path", prev.flag, prev.path, c.flag, c.path)
			case c.flag == "--requests-dir" && within(prev.real, real):
				return fmt.Errorf("%s %s lies inside %s %s: write it elsewhere", prev.flag, prev.path, c.flag, c.path)
			}
		}
		outs = append(outs, output{c.flag, c.path, real})
	}
	for _, in := range inputs {
		if in == "" || in == "-" {
			continue
		}
		for _, out := range outs {
			if objstore.IsURL(in) || objstore.IsURL(out.path) {
				if err := objectOverlaps(in, out.flag, out.path); err != nil {
					return err
				}
				continue
			}
			if err := overlaps(in, out.flag, out.path, out.real); err != nil {
				return err
			}
		}
	}
	for _, out := range outs {
		var err error
		if objstore.IsURL(out.path) {
			if err := objstore.CheckOutput(context.Background(), out.path); err != nil {
				return fmt.Errorf("%s: %w", out.flag, err)
			}
			continue
		}
		if out.flag == "--requests-dir" {
			err = prepareRequestsDir(out.path, o.Force)
		} else {
			err = creatable(out.path)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", out.flag, out.path, err)
		}
	}
	return nil
}

// overlaps refuses an output (named by its flag, path and real path) that
// the input in would read or that would overwrite it.
func overlaps(in, flag, path, real string) error {
	refuse := func(what string) error {
		return fmt.Errorf("%s %s %s: rtseg would overwrite its own input; write it elsewhere", flag, path, what)
	}
	if strings.ContainsAny(in, `*?[`) {
		pattern, err := realPath(in)
		if err != nil {
			return nil // reading the input says what is wrong with it
		}
		if ok, _ := filepath.Match(pattern, real); ok {
			return refuse(fmt.Sprintf("matches the INPUT %s", in))
		}
		matches, _ := filepath.Glob(in)
		for _, m := range matches {
			if err := overlaps(m, flag, path, real); err != nil {
				return err
			}
		}
		return nil
	}
	inReal, err := realPath(in)
	if err != nil {
		return nil
	}
	info, err := os.Stat(inReal)
	switch {
	case err != nil:
		return nil
	case inReal == real:
		return refuse(fmt.Sprintf("is the INPUT %s", in))
	case info.IsDir() && within(real, inReal):
		return refuse(fmt.Sprintf("lies inside the INPUT directory %s, which a later run would read", in))
	case flag == "--requests-dir" && within(inReal, real):
		return refuse(fmt.Sprintf("holds the INPUT %s", in))
	}
	return nil
}

// objectOverlaps refuses an output object that an INPUT URL would read:
// the same object, or one under the INPUT's prefix, in the same bucket.
func objectOverlaps(in, flag, out string) error {
	if !objstore.IsURL(in) || !objstore.IsURL(out) {
		return nil
	}
	il, err1 := objstore.Parse(in)
	ol, err2 := objstore.Parse(out)
	if err1 != nil || err2 != nil || il.Scheme != ol.Scheme || il.Bucket != ol.Bucket {
		return nil
	}
	inKey := il.Key
	if i := strings.IndexAny(inKey, "*?["); i >= 0 {
		inKey = inKey[:strings.LastIndex(inKey[:i], "/")+1]
	}
	if ol.Key == inKey || (strings.HasSuffix(inKey, "/") || inKey == "") && strings.HasPrefix(ol.Key, inKey) ||
		strings.HasPrefix(ol.Key, inKey+"/") {
		return fmt.Errorf("%s %s lies under the INPUT %s, which a later run would read; write it elsewhere", flag, ol, il)
	}
	return nil
}

// realPath is path made absolute with its symbolic links resolved; the part
// of it that does not exist yet is kept as it is.
func realPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	rest := ""
	for dir := abs; ; {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(real, rest), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
}

// within reports whether path lies inside dir.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// creatable checks that a file can be written at path: its directory
// exists and takes new files, and path is not a directory.
func creatable(path string) error {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return errors.New("is a directory")
	}
	p, err := createPending(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("cannot create a file in %s: %w", filepath.Dir(path), pe.Err)
		}
		return err
	}
	p.abort()
	return nil
}

// requestFile is the name of a request body in --requests-dir.
var requestFile = regexp.MustCompile(`^request-[0-9]{6,}\.json$`)

// prepareRequestsDir makes dir if it is missing and checks that it takes
// files. A dir that holds anything is refused, so that an earlier run's
// requests are not mistaken for this one's; with force, the request files
// in it are removed and anything else left alone.
func prepareRequestsDir(dir string, force bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 && !force {
		return &NotEmptyError{Dir: dir, Entries: len(entries), First: entries[0].Name()}
	}
	for _, e := range entries {
		if requestFile.MatchString(e.Name()) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return creatable(filepath.Join(dir, "request-000001.json"))
}

// NotEmptyError is a --requests-dir that holds files already.
type NotEmptyError struct {
	Dir     string
	Entries int
	First   string // the first entry, by name
}

func (e *NotEmptyError) Error() string {
	if e.Entries == 1 {
		return fmt.Sprintf("not empty: it holds %s", e.First)
	}
	return fmt.Sprintf("not empty: it holds %s and %d more", e.First, e.Entries-1)
}

func (e *NotEmptyError) Hint() string {
	return "give a new or empty directory, or --force to remove the request files (request-NNNNNN.json) an earlier run left there"
}
