package objstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// File is an object opened for reading, as a stream (Read, which survives
// a connection lost part way by reopening at its offset) and by ranges
// (ReadAt, one ranged request a call, for Parquet). Every request is
// checked to return the version first seen, and the size listed: an
// object replaced meanwhile fails with ErrChanged rather than mixing two
// versions or ending early.
type File struct {
	fs  *FS
	key string
	fi  *info

	off    int64        // where Read goes on from
	stream *blob.Reader // the open stream, nil when none
	closed bool
}

var (
	_ fs.File     = (*File)(nil)
	_ io.ReaderAt = (*File)(nil)
	_ io.Seeker   = (*File)(nil)
)

// Stat describes the object; Sys is its *Object.
func (f *File) Stat() (fs.FileInfo, error) { return f.fi, nil }

// Size is the object's size.
func (f *File) Size() int64 { return f.fi.size }

// Read reads the object from where the last Read (or Seek) left it.
func (f *File) Read(p []byte) (int, error) {
	if f.closed {
		return 0, fs.ErrClosed
	}
	if f.off >= f.fi.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	err := f.retry(func() (bool, error) {
		if f.stream == nil {
			r, err := f.open(f.off, -1)
			if err != nil {
				return false, err
			}
			f.stream = r
		}
		var err error
		n, err = f.stream.Read(p)
		f.off += int64(n)
		f.fs.fetched.Add(int64(n))
		switch {
		case err == io.EOF && f.off < f.fi.size:
			// The body ended before the object did: the connection was
			// cut cleanly.
			err = fmt.Errorf("the object ended at byte %d of %d: %w", f.off, f.fi.size, io.ErrUnexpectedEOF)
		case err == io.EOF || (err == nil && n > 0):
			return n > 0, nil
		case err == nil:
			return false, nil
		}
		f.stream.Close()
		f.stream = nil
		if n > 0 {
			// Hand over what came; the next Read reopens.
			return true, nil
		}
		return false, err
	}, func() int64 { return f.off })
	if err == nil && n == 0 && f.off >= f.fi.size {
		return 0, io.EOF
	}
	return n, err
}

// ReadAt reads len(p) bytes at off by ranged requests, as io.ReaderAt
// does.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if f.closed {
		return 0, fs.ErrClosed
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: f.key, Err: fs.ErrInvalid}
	}
	want := p
	var eof error
	if rest := f.fi.size - off; rest < int64(len(p)) {
		if rest <= 0 {
			return 0, io.EOF
		}
		want, eof = p[:rest], io.EOF
	}
	done := 0
	err := f.retry(func() (bool, error) {
		r, err := f.open(off+int64(done), int64(len(want)-done))
		if err != nil {
			return false, err
		}
		defer r.Close()
		n, err := io.ReadFull(r, want[done:])
		done += n
		f.fs.fetched.Add(int64(n))
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n > 0, err
	}, func() int64 { return off + int64(done) })
	if err != nil {
		return done, err
	}
	return done, eof
}

// Seek sets where Read goes on from.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += f.fi.size
	default:
		return 0, fs.ErrInvalid
	}
	if offset < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.key, Err: fs.ErrInvalid}
	}
	if offset != f.off && f.stream != nil {
		f.stream.Close()
		f.stream = nil
	}
	f.off = offset
	return offset, nil
}

// Close ends the stream, if one is open.
func (f *File) Close() error {
	if f.closed {
		return fs.ErrClosed
	}
	f.closed = true
	if f.stream != nil {
		f.stream.Close()
		f.stream = nil
	}
	return nil
}

// open starts a ranged read and checks that it reads the object as first
// seen: the same size, and the same version.
func (f *File) open(off, length int64) (*blob.Reader, error) {
	r, err := f.fs.b.NewRangeReader(f.fs.ctx, f.key, off, length, f.fs.readerOptions())
	if err != nil {
		return nil, err
	}
	v := readerVersion(f.fs.loc.Scheme, r)
	known, _ := f.fs.known(f.key)
	switch {
	case r.Size() != f.fi.size:
		r.Close()
		return nil, fmt.Errorf("%w: it was %d bytes and is now %d", ErrChanged, f.fi.size, r.Size())
	case v != "" && known.version != "" && v != known.version:
		r.Close()
		return nil, fmt.Errorf("%w: its version was %s and is now %s", ErrChanged, known.version, v)
	case v != "" && known.version == "":
		known.version = v
		known.size = f.fi.size
		if known.modTime.IsZero() {
			known.modTime = f.fi.modTime
		}
		f.fs.learn(f.key, known)
	}
	return r, nil
}

// retry runs try until it succeeds, tries again after a transient failure
// with a growing wait (the count of tries starts over whenever one makes
// progress), and makes a lasting failure an *Error naming the object.
func (f *File) retry(try func() (progress bool, err error), at func() int64) error {
	wait := f.fs.opts.Backoff
	failures := 0
	for {
		progress, err := try()
		if err == nil {
			return nil
		}
		if progress {
			failures, wait = 0, f.fs.opts.Backoff
		}
		failures++
		if !transient(err) || failures > f.fs.opts.Retries {
			if failures > f.fs.opts.Retries {
				err = fmt.Errorf("gave up after %d tries at byte %d: %w", failures, at(), err)
			}
			return f.fail(err)
		}
		if f.fs.opts.OnRetry != nil {
			f.fs.opts.OnRetry(f.fs.URL(f.key), at(), errors.New(f.fs.loc.scrub(shortError(err))))
		}
		t := time.NewTimer(wait)
		select {
		case <-f.fs.ctx.Done():
			t.Stop()
			return f.fs.ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 32*f.fs.opts.Backoff)
	}
}

// fail names the object in a read's error.
func (f *File) fail(err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		// It was there when listed or opened: a GCS client resuming a
		// read asks for the generation it began with.
		err = fmt.Errorf("%w: it was replaced or deleted", ErrChanged)
	}
	if errors.Is(err, ErrChanged) {
		return &Error{URL: f.fs.at(f.key).String(), Err: err,
			hint: "something wrote the object while rtseg read it; run again once the export is complete"}
	}
	return f.fs.at(f.key).fail(err, false)
}
