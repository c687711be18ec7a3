package objstoretest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 is gofakes3 on loopback, addressed path-style.
type S3 struct {
	*Faults
	srv     *httptest.Server
	backend *s3mem.Backend
}

// Credentials that only the fake takes.
const (
	s3Key    = "AKIAFAKEFAKEFAKE"
	s3Secret = "fake-secret-never-shown"
)

// NewS3 starts an S3 fake.
func NewS3() *S3 {
	s := &S3{backend: s3mem.New()}
	s.Faults = newFaults(gofakes3.New(s.backend).Server(), func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
	})
	s.srv = httptest.NewServer(s.Faults)
	return s
}

// Close stops the fake.
func (s *S3) Close() { s.srv.Close() }

// Endpoint is the fake's base URL.
func (s *S3) Endpoint() string { return s.srv.URL }

// Env is what the client's environment needs: credentials for the
// standard chain, a region, and no instance metadata to look for.
func (s *S3) Env() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID":           s3Key,
		"AWS_SECRET_ACCESS_KEY":       s3Secret,
		"AWS_REGION":                  "us-east-1",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             "/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
	}
}

// Secret is the secret key Env gives, which nothing should show.
func (s *S3) Secret() string { return s3Secret }

// URL is the s3:// URL of a key (or prefix) in a bucket, with the query
// that points gocloud at the fake.
func (s *S3) URL(bucket, key string) string {
	q := url.Values{"endpoint": {s.srv.URL}, "use_path_style": {"true"}, "region": {"us-east-1"}}
	return "s3://" + bucket + "/" + key + "?" + q.Encode()
}

// CreateBucket makes a bucket.
func (s *S3) CreateBucket(name string) error { return s.backend.CreateBucket(name) }

// Put stores an object.
func (s *S3) Put(bucket, key string, data []byte) error {
	_, err := s.backend.PutObject(bucket, key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil)
	return err
}

// Get reads an object.
func (s *S3) Get(bucket, key string) ([]byte, error) {
	o, err := s.backend.GetObject(bucket, key, nil)
	if err != nil {
		return nil, err
	}
	defer o.Contents.Close()
	return io.ReadAll(o.Contents)
}
