package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob://
	_ "gocloud.dev/blob/s3blob"    // s3://; gs:// is gcs.go's
	"gocloud.dev/gcerrors"
	"gocloud.dev/gcp"
)

// Options tune how an FS reads.
type Options struct {
	// Retries is how many times in a row a read is tried again after a
	// transient failure (a lost connection, a server error) that made no
	// progress; 0 means 6.
	Retries int
	// Backoff is the first wait before trying again, doubled each time
	// up to 32 times it; 0 means 200ms.
	Backoff time.Duration
	// OnRetry, if set, hears of each read tried again: the object's URL,
	// the offset it resumes from and what failed.
	OnRetry func(object string, offset int64, err error)
}

// FS is a bucket seen as an io/fs.FS: a prefix ending in "/" is a folder,
// an object a file. Paths are keys, with "." for the bucket's root. Files
// it opens are *File. It holds what it learnt of objects (size, version),
// so that a file is read as the version first seen.
type FS struct {
	loc  Location // the bucket; Key is ""
	b    *blob.Bucket
	ctx  context.Context
	opts Options

	mu      sync.Mutex
	objects map[string]object

	fetched atomic.Int64
}

// object is what is known of an object.
type object struct {
	size    int64
	modTime time.Time
	// version is its ETag, or its generation for gs://; "" until read or
	// fingerprinted.
	version string
}

var (
	_ fs.ReadDirFS = (*FS)(nil)
	_ fs.StatFS    = (*FS)(nil)
)

// Open opens the bucket a URL names and returns it as an FS, with the
// path of the URL's key in it: "." for the bucket's root, the key without
// a final "/" otherwise. Unless the key's last segment is a glob pattern
// (*, ? or [), it checks that something is there: an object, or objects
// under the prefix. A missing bucket, denied access or an empty prefix is
// an *Error naming the URL, with a hint. ctx bounds every request the FS
// makes.
func Open(ctx context.Context, raw string, opts Options) (*FS, string, error) {
	loc, err := Parse(raw)
	if err != nil {
		return nil, "", err
	}
	p := strings.TrimSuffix(loc.Key, "/")
	if p == "" {
		p = "."
	}
	if !fs.ValidPath(p) {
		return nil, "", &Error{URL: loc.String(), Err: errors.New("the key is not a path rtseg can read (empty segments, . or ..)")}
	}
	f, err := openBucket(ctx, loc, opts)
	if err != nil {
		return nil, "", err
	}
	if strings.ContainsAny(path.Base(p), "*?[") {
		// The caller matches the pattern; check the folder it is in.
		_, err = f.ReadDir(path.Dir(p))
	} else {
		_, err = f.Stat(p)
	}
	if err != nil {
		f.Close()
		var pe *fs.PathError
		if errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist) {
			return nil, "", &Error{URL: loc.String(), Err: ErrEmpty, hint: "see what is there with: " + listHint(loc)}
		}
		err = unwrapPath(err)
		var se *Error
		if errors.As(err, &se) {
			// Name the URL as given.
			se.URL = loc.String()
		}
		return nil, "", err
	}
	return f, p, nil
}

// openBucket opens a location's bucket.
func openBucket(ctx context.Context, loc Location, opts Options) (*FS, error) {
	if err := gcsCredentials(ctx, loc); err != nil {
		return nil, err
	}
	var b *blob.Bucket
	var err error
	if loc.Scheme == "gs" {
		b, err = openGCS(ctx, loc)
	} else {
		b, err = blob.OpenBucket(ctx, loc.bucketURL())
	}
	if err != nil {
		return nil, loc.fail(err, false)
	}
	if opts.Retries <= 0 {
		opts.Retries = 6
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 200 * time.Millisecond
	}
	root := loc
	root.Key = ""
	return &FS{loc: root, b: b, ctx: ctx, opts: opts, objects: map[string]object{}}, nil
}

// gcsCredentials looks for Google's credentials before gocloud does: it
// prints a warning to standard output when there are none, where rtseg
// says so as an error instead.
func gcsCredentials(ctx context.Context, loc Location) error {
	if loc.Scheme != "gs" || os.Getenv("STORAGE_EMULATOR_HOST") != "" || loc.query.Get("anonymous") == "true" || loc.query.Get("access_id") == "-" {
		return nil
	}
	if _, err := gcp.DefaultCredentials(ctx); err != nil {
		return &Error{URL: loc.String(), Err: errors.New("no Google Cloud credentials found"), hint: credentialsHint("gs")}
	}
	return nil
}

// Close closes the bucket.
func (f *FS) Close() error { return f.b.Close() }

// URL is how messages and reports name the object or prefix at a path of
// the FS: scheme://bucket/key, without the query.
func (f *FS) URL(p string) string {
	if p == "." {
		p = ""
	}
	return f.loc.Object(p)
}

// Fetched is how many bytes of objects the FS has read so far.
func (f *FS) Fetched() int64 { return f.fetched.Load() }

// at is the location of a path, for messages.
func (f *FS) at(p string) Location {
	l := f.loc
	if p != "." {
		l.Key = p
	}
	return l
}

// ReadDir lists the folder at a path: the objects directly under its
// prefix as files, and the prefixes one level further as folders, in name
// order. Objects whose keys end in "/" (the folder markers consoles make)
// are left out. A folder with nothing under it does not exist, except
// the bucket's root.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	prefix := ""
	if name != "." {
		prefix = name + "/"
	}
	var entries []fs.DirEntry
	marker := false
	it := f.b.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	for {
		o, err := it.Next(f.ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: f.at(name).fail(err, true)}
		}
		rel := strings.TrimPrefix(o.Key, prefix)
		if o.IsDir {
			rel = strings.TrimSuffix(rel, "/")
			if rel != "" && !strings.Contains(rel, "/") {
				entries = append(entries, &info{name: rel, dir: true})
			}
			continue
		}
		if rel == "" || strings.Contains(rel, "/") {
			marker = true
			continue
		}
		f.learn(o.Key, object{size: o.Size, modTime: o.ModTime})
		entries = append(entries, &info{name: rel, size: o.Size, modTime: o.ModTime})
	}
	if len(entries) == 0 && name != "." && !marker {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return entries, nil
}

// learn notes what a listing or a request said of an object, keeping a
// version already known.
func (f *FS) learn(key string, o object) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.objects[key]; ok && old.version != "" && o.version == "" {
		o.version = old.version
	}
	f.objects[key] = o
}

func (f *FS) known(key string) (object, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[key]
	return o, ok
}

// Stat describes the object at a path, or the folder of the objects under
// it.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		// The root exists if the bucket does.
		if _, _, err := f.b.ListPage(f.ctx, blob.FirstPageToken, 1, nil); err != nil {
			return nil, &fs.PathError{Op: "stat", Path: name, Err: f.at(name).fail(err, true)}
		}
		return &info{name: ".", dir: true}, nil
	}
	if o, ok := f.known(name); ok {
		return &info{name: path.Base(name), size: o.size, modTime: o.modTime, sys: f.objectInfo(name, o)}, nil
	}
	o, err := f.attributes(name)
	if err == nil {
		return &info{name: path.Base(name), size: o.size, modTime: o.modTime, sys: f.objectInfo(name, o)}, nil
	}
	if gcerrors.Code(err) != gcerrors.NotFound {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: f.at(name).fail(err, false)}
	}
	page, _, err := f.b.ListPage(f.ctx, blob.FirstPageToken, 1, &blob.ListOptions{Prefix: name + "/"})
	switch {
	case err != nil:
		return nil, &fs.PathError{Op: "stat", Path: name, Err: f.at(name).fail(err, true)}
	case len(page) == 0:
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return &info{name: path.Base(name), dir: true}, nil
}

// attributes asks the store for an object's size and version, and notes
// them.
func (f *FS) attributes(key string) (object, error) {
	a, err := f.b.Attributes(f.ctx, key)
	if err != nil {
		return object{}, err
	}
	o := object{size: a.Size, modTime: a.ModTime, version: attributesVersion(f.loc.Scheme, a)}
	f.learn(key, o)
	return o, nil
}

// Object describes an object for resuming and syncing: a changed object
// has another version or size.
type Object struct {
	URL     string // scheme://bucket/key
	Size    int64
	ModTime time.Time
	// Version is the object's ETag, or its generation for gs://.
	Version string
}

// Fingerprint describes the object at a path, asking the store for its
// version if not yet known. A file opened after it reads that version or
// fails with ErrChanged.
func (f *FS) Fingerprint(p string) (Object, error) {
	o, ok := f.known(p)
	if !ok || o.version == "" {
		var err error
		if o, err = f.attributes(p); err != nil {
			return Object{}, f.at(p).fail(err, false)
		}
	}
	return *f.objectInfo(p, o), nil
}

func (f *FS) objectInfo(key string, o object) *Object {
	return &Object{URL: f.URL(key), Size: o.size, ModTime: o.modTime, Version: o.version}
}

// Open opens the object at a path as a *File, or the folder at it.
func (f *FS) Open(name string) (fs.File, error) {
	fi, err := f.Stat(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Op = "open"
		}
		return nil, err
	}
	if fi.IsDir() {
		return &dirFile{f: f, name: name, fi: fi.(*info)}, nil
	}
	return &File{fs: f, key: name, fi: fi.(*info)}, nil
}

// unwrapPath returns the *Error inside a *fs.PathError, which names the
// URL already.
func unwrapPath(err error) error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	return err
}

// info describes an object or a folder; it is an fs.FileInfo and an
// fs.DirEntry. Sys is an *Object for an object whose details are known.
type info struct {
	name    string
	size    int64
	modTime time.Time
	dir     bool
	sys     *Object
}

func (i *info) Name() string       { return i.name }
func (i *info) Size() int64        { return i.size }
func (i *info) ModTime() time.Time { return i.modTime }
func (i *info) IsDir() bool        { return i.dir }
func (i *info) Sys() any           { return i.sys }
func (i *info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i *info) Type() fs.FileMode          { return i.Mode().Type() }
func (i *info) Info() (fs.FileInfo, error) { return i, nil }

// dirFile is an opened folder.
type dirFile struct {
	f    *FS
	name string
	fi   *info
	list []fs.DirEntry
	read bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.fi, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		list, err := d.f.ReadDir(d.name)
		if err != nil {
			return nil, err
		}
		d.list, d.read = list, true
	}
	if n <= 0 {
		out := d.list
		d.list = nil
		return out, nil
	}
	if len(d.list) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.list))
	out := d.list[:n]
	d.list = d.list[n:]
	return out, nil
}

// String is the FS's bucket, for messages.
func (f *FS) String() string { return fmt.Sprint(f.loc) }
