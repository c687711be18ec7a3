package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"strings"

	"gocloud.dev/blob"
)

// CheckOutput checks, before a run, that an output can go to a URL: it
// names an object (not a prefix, nor a pattern) in a bucket that exists
// and that the credentials can reach. Whether they may write is known
// only when writing.
func CheckOutput(ctx context.Context, raw string) error {
	loc, err := Parse(raw)
	if err != nil {
		return err
	}
	switch {
	case loc.Key == "" || strings.HasSuffix(loc.Key, "/"):
		return &Error{URL: loc.String(), Err: errors.New("names a prefix, not an object"), hint: "add the object's name, as in " + loc.Object(loc.Key+"report.csv")}
	case strings.ContainsAny(loc.Key, "*?["):
		return &Error{URL: loc.String(), Err: errors.New("an output cannot be a pattern")}
	}
	f, err := openBucket(ctx, loc, Options{})
	if err != nil {
		return err
	}
	defer f.Close()
	if _, _, err := f.b.ListPage(ctx, blob.FirstPageToken, 1, nil); err != nil {
		return loc.fail(err, true)
	}
	return nil
}

// Upload writes src to the object a URL names. The object appears whole
// or not at all: the store commits it only when all of src was sent, and
// an error leaves what was there. contentType may be "".
func Upload(ctx context.Context, raw string, src io.Reader, contentType string) error {
	loc, err := Parse(raw)
	if err != nil {
		return err
	}
	f, err := openBucket(ctx, loc, Options{})
	if err != nil {
		return err
	}
	defer f.Close()
	if contentType == "" {
		contentType = mime.TypeByExtension(path.Ext(loc.Key))
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	// Cancelling the writer's context is how gocloud abandons an upload:
	// a source that fails cancels it before the driver can commit what
	// it read.
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	err = f.b.Upload(wctx, loc.Key, &abortOnError{r: src, cancel: cancel}, &blob.WriterOptions{ContentType: contentType})
	if cause := context.Cause(wctx); cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	if err != nil {
		var se *Error
		if errors.As(err, &se) {
			return err
		}
		return writeFailed(loc, err)
	}
	return nil
}

// abortOnError cancels an upload when its source fails.
type abortOnError struct {
	r      io.Reader
	cancel context.CancelCauseFunc
}

func (a *abortOnError) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && err != io.EOF {
		a.cancel(fmt.Errorf("reading what to write: %w", err))
	}
	return n, err
}

// writeFailed says that an object was not written, and why.
func writeFailed(loc Location, err error) error {
	e := loc.fail(err, true) // NotFound: no bucket
	var se *Error
	if errors.As(e, &se) {
		se.Err = fmt.Errorf("not written: %w", se.Err)
		if errors.Is(se.Err, ErrDenied) {
			se.hint = "grant them write access to the bucket (s3:PutObject, storage.objects.create, or Storage Blob Data Contributor); " + credentialsHint(loc.Scheme)
		}
	}
	return e
}
