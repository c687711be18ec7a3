package report

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/rtseg/rtseg/objstore"
)

// pendingFile is an output written beside its final path under a hidden
// temporary name and renamed into place only once complete, so that a crash
// or a failed write never leaves a half-written file over a good one. (The
// usual library for this, renameio, does not build on Windows.)
//
// An output that is an object URL (s3://…) is written to a local
// temporary file, uploaded whole by commit: the store then holds all of it
// or, if the upload fails, what it held before.
type pendingFile struct {
	*os.File
	path string
	url  string // the object it goes to, "" for a local path
}

func createPending(path string) (*pendingFile, error) {
	if objstore.IsURL(path) {
		f, err := os.CreateTemp("", "rtseg-output-*")
		if err != nil {
			return nil, err
		}
		return &pendingFile{File: f, path: f.Name(), url: path}, nil
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	// CreateTemp makes the file readable by its owner only; an output is
	// as readable as one os.Create makes.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &pendingFile{File: f, path: path}, nil
}

// commit makes the written file durable and puts it in place.
func (p *pendingFile) commit() error {
	if p.url != "" {
		return p.upload()
	}
	err := errors.Join(p.Sync(), p.File.Close())
	if err == nil {
		err = os.Rename(p.Name(), p.path)
	}
	if err != nil {
		os.Remove(p.Name())
	}
	return err
}

// abort removes the file, leaving whatever was at its path before.
func (p *pendingFile) abort() {
	p.File.Close()
	os.Remove(p.Name())
}

// writeFileAtomic writes data to path through a pendingFile.
func writeFileAtomic(path string, data []byte) error {
	p, err := createPending(path)
	if err != nil {
		return err
	}
	if _, err := p.Write(data); err != nil {
		p.abort()
		return err
	}
	return p.commit()
}

// upload sends the written file to its object and removes it.
func (p *pendingFile) upload() error {
	defer func() {
		p.File.Close()
		os.Remove(p.Name())
	}()
	if _, err := p.Seek(0, io.SeekStart); err != nil {
		return err
	}
	// Written at the end of a run, interrupted or not: the run's context
	// may be done already.
	return objstore.Upload(context.Background(), p.url, p.File, "")
}

// shownPath is an output's path or URL as messages show it.
func shownPath(p string) string {
	if objstore.IsURL(p) {
		return objstore.Redact(p)
	}
	return p
}
