package objstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	storage "google.golang.org/api/storage/v1"
)

// gs:// goes through Google's JSON API client (google.golang.org/api's
// storage/v1), as a gocloud driver of rtseg's own, rather than gocloud's
// gcsblob: gcsblob needs cloud.google.com/go/storage, which links gRPC's
// xDS, OpenTelemetry and Cloud Monitoring in, and their initialisation alone
// kept some 22 MiB of the program resident in every run, whatever its
// inputs. The JSON API is what that library speaks over HTTP too; URLs,
// credentials (application default credentials; ?anonymous=true or
// ?access_id=- for none) and STORAGE_EMULATOR_HOST mean what they meant
// with gcsblob.

// openGCS opens a gs:// bucket.
func openGCS(ctx context.Context, loc Location) (*blob.Bucket, error) {
	var opts []option.ClientOption
	for k, vs := range loc.query {
		v := vs[0]
		switch k {
		case "anonymous":
			anon, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("invalid value %q for query parameter \"anonymous\": %w", v, err)
			}
			if anon {
				opts = append(opts, option.WithoutAuthentication())
			}
		case "access_id":
			// "-" asks for no credentials; an ID, as private_key_path,
			// served gcsblob only to sign URLs, which rtseg does not do.
			if v == "-" {
				opts = append(opts, option.WithoutAuthentication())
			}
		case "private_key_path":
		case "universe_domain":
			opts = append(opts, option.WithUniverseDomain(v))
		default:
			return nil, fmt.Errorf("unknown query parameter %q", k)
		}
	}
	if host := os.Getenv("STORAGE_EMULATOR_HOST"); host != "" {
		// As Google's libraries find an emulator: plain HTTP, no
		// credentials.
		if !strings.Contains(host, "://") {
			host = "http://" + host
		}
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(host, "/")+"/storage/v1/"), option.WithoutAuthentication())
	}
	svc, err := storage.NewService(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return blob.NewBucket(&gcsBucket{svc: svc, name: loc.Bucket}), nil
}

// gcsBucket is a driver.Bucket on one bucket.
type gcsBucket struct {
	svc  *storage.Service
	name string
}

var _ driver.Bucket = (*gcsBucket)(nil)

func (b *gcsBucket) ErrorCode(err error) gcerrors.ErrorCode {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		if errors.Is(err, context.Canceled) {
			return gcerrors.Canceled
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return gcerrors.DeadlineExceeded
		}
		return gcerrors.Unknown
	}
	switch ge.Code {
	case http.StatusNotFound:
		return gcerrors.NotFound
	case http.StatusForbidden, http.StatusUnauthorized:
		return gcerrors.PermissionDenied
	case http.StatusPreconditionFailed:
		return gcerrors.FailedPrecondition
	case http.StatusTooManyRequests:
		return gcerrors.ResourceExhausted
	case http.StatusBadRequest:
		return gcerrors.InvalidArgument
	case http.StatusNotImplemented:
		return gcerrors.Unimplemented
	}
	return gcerrors.Unknown
}

func (b *gcsBucket) As(i any) bool {
	p, ok := i.(**storage.Service)
	if ok {
		*p = b.svc
	}
	return ok
}

func (b *gcsBucket) ErrorAs(err error, i any) bool { return errors.As(err, i) }

func (b *gcsBucket) Close() error { return nil }

// objectAs exposes an object's metadata to As as *storage.Object.
func objectAs(o *storage.Object) func(any) bool {
	return func(i any) bool {
		p, ok := i.(**storage.Object)
		if ok {
			*p = o
		}
		return ok
	}
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func (b *gcsBucket) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	o, err := b.svc.Objects.Get(b.name, key).Context(ctx).Do()
	if err != nil {
		return nil, err
	}
	md5, _ := base64.StdEncoding.DecodeString(o.Md5Hash)
	return &driver.Attributes{
		CacheControl:       o.CacheControl,
		ContentDisposition: o.ContentDisposition,
		ContentEncoding:    o.ContentEncoding,
		ContentLanguage:    o.ContentLanguage,
		ContentType:        o.ContentType,
		Metadata:           o.Metadata,
		CreateTime:         parseTime(o.TimeCreated),
		ModTime:            parseTime(o.Updated),
		Size:               int64(o.Size),
		MD5:                md5,
		ETag:               o.Etag,
		AsFunc:             objectAs(o),
	}, nil
}

func (b *gcsBucket) ListPaged(ctx context.Context, opts *driver.ListOptions) (*driver.ListPage, error) {
	call := b.svc.Objects.List(b.name).Context(ctx).Prefix(opts.Prefix).Delimiter(opts.Delimiter)
	if opts.PageSize > 0 {
		call.MaxResults(int64(opts.PageSize))
	}
	if len(opts.PageToken) > 0 {
		call.PageToken(string(opts.PageToken))
	}
	if err := expose(opts.BeforeList, call); err != nil {
		return nil, err
	}
	res, err := call.Do()
	if err != nil {
		return nil, err
	}
	page := &driver.ListPage{Objects: make([]*driver.ListObject, 0, len(res.Items)+len(res.Prefixes))}
	if res.NextPageToken != "" {
		page.NextPageToken = []byte(res.NextPageToken)
	}
	for _, o := range res.Items {
		md5, _ := base64.StdEncoding.DecodeString(o.Md5Hash)
		page.Objects = append(page.Objects, &driver.ListObject{Key: o.Name, ModTime: parseTime(o.Updated),
			Size: int64(o.Size), MD5: md5, AsFunc: objectAs(o)})
	}
	for _, p := range res.Prefixes {
		page.Objects = append(page.Objects, &driver.ListObject{Key: p, IsDir: true, AsFunc: func(any) bool { return false }})
	}
	slices.SortFunc(page.Objects, func(a, b *driver.ListObject) int { return strings.Compare(a.Key, b.Key) })
	return page, nil
}

// gcsReader reads an object, or a range of it. As gives the response,
// *http.Response, whose X-Goog-Generation header is the object's version.
type gcsReader struct {
	body  io.ReadCloser
	attrs driver.ReaderAttributes
	res   *http.Response
}

func (r *gcsReader) Read(p []byte) (int, error)           { return r.body.Read(p) }
func (r *gcsReader) Close() error                         { return r.body.Close() }
func (r *gcsReader) Attributes() *driver.ReaderAttributes { return &r.attrs }
func (r *gcsReader) As(i any) bool {
	p, ok := i.(**http.Response)
	if ok {
		*p = r.res
	}
	return ok
}

func (b *gcsBucket) NewRangeReader(ctx context.Context, key string, offset, length int64, opts *driver.ReaderOptions) (driver.Reader, error) {
	call := b.svc.Objects.Get(b.name, key).Context(ctx)
	if opts != nil {
		if err := expose(opts.BeforeRead, call); err != nil {
			return nil, err
		}
	}
	if length == 0 {
		// Only the attributes: no bytes to fetch.
		a, err := b.Attributes(ctx, key)
		if err != nil {
			return nil, err
		}
		return &gcsReader{body: http.NoBody, attrs: driver.ReaderAttributes{ContentType: a.ContentType, ModTime: a.ModTime, Size: a.Size},
			res: &http.Response{Header: http.Header{"X-Goog-Generation": {generationOf(a)}}}}, nil
	}
	if offset > 0 || length > 0 {
		r := fmt.Sprintf("bytes=%d-", offset)
		if length > 0 {
			r += strconv.FormatInt(offset+length-1, 10)
		}
		call.Header().Set("Range", r)
	}
	res, err := call.Download()
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusRequestedRangeNotSatisfiable {
		// At or past the end: nothing to read.
		a, aerr := b.Attributes(ctx, key)
		if aerr != nil {
			return nil, aerr
		}
		return &gcsReader{body: http.NoBody, attrs: driver.ReaderAttributes{ContentType: a.ContentType, ModTime: a.ModTime, Size: a.Size},
			res: &http.Response{Header: http.Header{"X-Goog-Generation": {generationOf(a)}}}}, nil
	}
	if err != nil {
		return nil, err
	}
	size := res.ContentLength
	if cr := res.Header.Get("Content-Range"); cr != "" {
		// bytes A-B/SIZE
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if n, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
				size = n
			}
		}
	} else if n, err := strconv.ParseInt(res.Header.Get("X-Goog-Stored-Content-Length"), 10, 64); err == nil {
		size = n
	}
	mod, _ := http.ParseTime(res.Header.Get("Last-Modified"))
	return &gcsReader{body: res.Body, res: res,
		attrs: driver.ReaderAttributes{ContentType: res.Header.Get("Content-Type"), ModTime: mod, Size: size}}, nil
}

// generationOf is the generation in an object's attributes, "" if unknown.
func generationOf(a *driver.Attributes) string {
	var o *storage.Object
	if a.AsFunc != nil && a.AsFunc(&o) && o.Generation != 0 {
		return strconv.FormatInt(o.Generation, 10)
	}
	return ""
}

// gcsWriter streams what is written to one upload request. The object is
// created only when the upload completes: an upload whose context is
// cancelled, or whose writer is never closed, leaves what was there.
type gcsWriter struct {
	pw   *io.PipeWriter
	done chan error
}

func (w *gcsWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }

func (w *gcsWriter) Close() error {
	w.pw.Close()
	return <-w.done
}

func (b *gcsBucket) NewTypedWriter(ctx context.Context, key, contentType string, opts *driver.WriterOptions) (driver.Writer, error) {
	o := &storage.Object{Name: key, ContentType: contentType, Metadata: opts.Metadata, CacheControl: opts.CacheControl,
		ContentDisposition: opts.ContentDisposition, ContentEncoding: opts.ContentEncoding, ContentLanguage: opts.ContentLanguage}
	if len(opts.ContentMD5) > 0 {
		o.Md5Hash = base64.StdEncoding.EncodeToString(opts.ContentMD5)
	}
	pr, pw := io.Pipe()
	media := []googleapi.MediaOption{googleapi.ContentType(contentType)}
	if opts.BufferSize > 0 {
		media = append(media, googleapi.ChunkSize(opts.BufferSize))
	}
	call := b.svc.Objects.Insert(b.name, o).Context(ctx)
	if opts.IfNotExist {
		call.IfGenerationMatch(0)
	}
	if err := expose(opts.BeforeWrite, call); err != nil {
		return nil, err
	}
	w := &gcsWriter{pw: pw, done: make(chan error, 1)}
	go func() {
		// Media reads the first chunk at once: here, as it is written.
		_, err := call.Media(pr, media...).Do()
		// A writer still writing learns that the upload is over.
		pr.CloseWithError(cmpErr(err, errors.New("the upload ended")))
		w.done <- err
	}()
	return w, nil
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

func (b *gcsBucket) Copy(ctx context.Context, dstKey, srcKey string, opts *driver.CopyOptions) error {
	_, err := b.svc.Objects.Copy(b.name, srcKey, b.name, dstKey, &storage.Object{}).Context(ctx).Do()
	return err
}

func (b *gcsBucket) Delete(ctx context.Context, key string, opts *driver.DeleteOptions) error {
	return b.svc.Objects.Delete(b.name, key).Context(ctx).Do()
}

func (b *gcsBucket) SignedURL(ctx context.Context, key string, opts *driver.SignedURLOptions) (string, error) {
	return "", &googleapi.Error{Code: http.StatusNotImplemented, Message: "rtseg does not sign URLs"}
}

// expose lets a gocloud hook (BeforeList, BeforeRead, BeforeWrite) reach
// the call about to be made, as As does for results.
func expose[T any](before func(asFunc func(any) bool) error, call T) error {
	if before == nil {
		return nil
	}
	return before(func(i any) bool {
		p, ok := i.(*T)
		if ok {
			*p = call
		}
		return ok
	})
}
