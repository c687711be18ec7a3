package report

import (
	"errors"
	"os"
	"path/filepath"
)

// pendingFile is an output written beside its final path under a hidden
// temporary name and renamed into place only once complete, so that a crash
// or a failed write never leaves a half-written file over a good one. (The
// usual library for this, renameio, does not build on Windows.)
type pendingFile struct {
	*os.File
	path string
}

func createPending(path string) (*pendingFile, error) {
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
