// Package objstoretest starts fakes of the object stores on loopback, for
// tests: gofakes3 for S3, fake-gcs-server for Google Cloud Storage, and
// Azurite (an npm package, run as a program) for Azure Blob Storage. Each
// sits behind Faults, which counts the bytes of objects served and can
// cut a connection at an offset or refuse a bucket.
package objstoretest

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Faults wraps a store's HTTP handler: it counts the bytes of object
// bodies it serves, resets the connection of a read that reaches an
// offset, and answers 403 for a bucket it denies.
type Faults struct {
	next http.Handler
	deny func(w http.ResponseWriter)

	mu     sync.Mutex
	served map[string]int64   // by object, "bucket/key"
	resets map[string][]int64 // offsets still to cut at, by object
	denied map[string]bool    // buckets
	noPut  map[string]bool    // buckets that refuse writes only
	cut    int
}

func newFaults(next http.Handler, deny func(http.ResponseWriter)) *Faults {
	return &Faults{next: next, deny: deny, served: map[string]int64{}, resets: map[string][]int64{}, denied: map[string]bool{}, noPut: map[string]bool{}}
}

// Served is how many bytes of an object's content the store has sent.
func (f *Faults) Served(bucket, key string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served[bucket+"/"+key]
}

// ResetAt makes the first read of an object that reaches offset end
// there: the store sends the bytes before it, then resets the connection.
func (f *Faults) ResetAt(bucket, key string, offset int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := bucket + "/" + key
	f.resets[k] = append(f.resets[k], offset)
}

// Resets is how many connections were cut so far.
func (f *Faults) Resets() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cut
}

// Deny makes every request on a bucket fail with 403.
func (f *Faults) Deny(bucket string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.denied[bucket] = true
}

// DenyWrites makes every write to a bucket fail with 403; reads and
// listings still work.
func (f *Faults) DenyWrites(bucket string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noPut[bucket] = true
}

// object tells the bucket and key a request reads, from its path: S3 and
// Azure's /bucket/key, GCS's /bucket/key, /download/storage/v1/b/B/o/K
// and /storage/v1/b/B/o/K; bucket alone for a request on the bucket.
func object(r *http.Request) (bucket, key string) {
	p := r.URL.Path
	if u, err := url.PathUnescape(r.URL.EscapedPath()); err == nil {
		p = u
	}
	p = strings.TrimPrefix(strings.TrimPrefix(p, "/download"), "/upload")
	if rest, ok := strings.CutPrefix(p, "/storage/v1/b/"); ok {
		bucket, key, _ = strings.Cut(rest, "/o/")
		if i := strings.Index(bucket, "/"); i >= 0 {
			bucket = bucket[:i]
		}
		return bucket, key
	}
	p = strings.TrimPrefix(p, "/devstoreaccount1") // Azurite's account
	bucket, key, _ = strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return bucket, key
}

func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, key := object(r)
	f.mu.Lock()
	denied := f.denied[bucket] || (f.noPut[bucket] && r.Method != http.MethodGet && r.Method != http.MethodHead)
	f.mu.Unlock()
	if denied {
		f.deny(w)
		return
	}
	if r.Method != http.MethodGet || key == "" || r.URL.Query().Has("comp") || r.URL.Query().Has("list-type") {
		f.next.ServeHTTP(w, r)
		return
	}
	k := bucket + "/" + key
	cw := &countingWriter{ResponseWriter: w, f: f, key: k, start: rangeStart(r.Header.Get("Range"))}
	f.mu.Lock()
	if offs := f.resets[k]; len(offs) > 0 {
		cw.resetAt = offs[0]
		cw.armed = true
	}
	f.mu.Unlock()
	f.next.ServeHTTP(cw, r)
}

// rangeStart is where a "bytes=A-B" range starts, 0 for none.
func rangeStart(h string) int64 {
	s, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return 0
	}
	a, _, _ := strings.Cut(s, "-")
	n, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// countingWriter counts a body, and cuts it at resetAt when armed.
type countingWriter struct {
	http.ResponseWriter
	f       *Faults
	key     string
	start   int64 // the offset in the object of the body's first byte
	n       int64
	resetAt int64
	armed   bool
	status  int
}

func (c *countingWriter) WriteHeader(code int) {
	c.status = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.status >= 300 {
		return c.ResponseWriter.Write(p)
	}
	if c.armed && c.start+c.n+int64(len(p)) > c.resetAt && c.start <= c.resetAt {
		keep := max(c.resetAt-c.start-c.n, 0)
		n, _ := c.ResponseWriter.Write(p[:keep])
		c.count(int64(n))
		c.reset()
		panic(http.ErrAbortHandler)
	}
	n, err := c.ResponseWriter.Write(p)
	c.count(int64(n))
	return n, err
}

func (c *countingWriter) count(n int64) {
	c.n += n
	c.f.mu.Lock()
	c.f.served[c.key] += n
	c.f.mu.Unlock()
}

// reset sends what is buffered and resets the connection (an RST, as a
// load balancer or a dying server does), and disarms the fault.
func (c *countingWriter) reset() {
	c.f.mu.Lock()
	if offs := c.f.resets[c.key]; len(offs) > 0 {
		c.f.resets[c.key] = offs[1:]
	}
	c.f.cut++
	c.f.mu.Unlock()
	rc := http.NewResponseController(c.ResponseWriter)
	rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func (c *countingWriter) Flush() { http.NewResponseController(c.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the connection.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
