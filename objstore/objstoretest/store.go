package objstoretest

// Store is what the fakes have in common.
type Store interface {
	// URL is the URL of a key (or prefix) in a bucket, with what the
	// client needs to reach the fake.
	URL(bucket, key string) string
	// Env is what the client's environment needs.
	Env() map[string]string
	CreateBucket(name string) error
	Put(bucket, key string, data []byte) error
	Get(bucket, key string) ([]byte, error)
	Served(bucket, key string) int64
	ResetAt(bucket, key string, offset int64)
	Resets() int
	Deny(bucket string)
	DenyWrites(bucket string)
	Close()
}

var (
	_ Store = (*S3)(nil)
	_ Store = (*GCS)(nil)
	_ Store = (*Azure)(nil)
)
