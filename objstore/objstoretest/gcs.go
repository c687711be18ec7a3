package objstoretest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// GCS is fake-gcs-server, in its library mode, on loopback.
type GCS struct {
	*Faults
	srv  *httptest.Server
	fake *fakestorage.Server
}

// NewGCS starts a GCS fake.
func NewGCS() (*GCS, error) {
	g := &GCS{}
	var handler http.Handler
	g.Faults = newFaults(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }), func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"error":{"code":403,"message":"rtseg-test@example.iam.gserviceaccount.com does not have storage.objects.list access","errors":[{"reason":"forbidden"}]}}`)
	})
	g.srv = httptest.NewUnstartedServer(g.Faults)
	// The fake serves reads at /BUCKET/OBJECT only for its public host.
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, Writer: io.Discard,
		PublicHost: g.srv.Listener.Addr().String()})
	if err != nil {
		g.srv.Close()
		return nil, err
	}
	g.fake, handler = fake, fake.HTTPHandler()
	g.srv.Start()
	return g, nil
}

// Close stops the fake.
func (g *GCS) Close() {
	g.srv.Close()
	g.fake.Stop()
}

// Env points the client at the fake, as Google's libraries are told to
// find an emulator.
func (g *GCS) Env() map[string]string {
	return map[string]string{"STORAGE_EMULATOR_HOST": strings.TrimPrefix(g.srv.URL, "http://")}
}

// URL is the gs:// URL of a key (or prefix).
func (g *GCS) URL(bucket, key string) string { return "gs://" + bucket + "/" + key }

// CreateBucket makes a bucket.
func (g *GCS) CreateBucket(name string) error {
	g.fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	return nil
}

// Put stores an object.
func (g *GCS) Put(bucket, key string, data []byte) error {
	g.fake.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: bucket, Name: key}, Content: data})
	return nil
}

// Get reads an object.
func (g *GCS) Get(bucket, key string) ([]byte, error) {
	o, err := g.fake.GetObject(bucket, key)
	if err != nil {
		return nil, err
	}
	return o.Content, nil
}
