package objstore

import (
	"net/http"
	"strconv"

	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	storage "google.golang.org/api/storage/v1"
)

// An object's version is what changes when it is replaced: its ETag, or
// for Google Cloud Storage its generation (its ETag changes with its
// metadata too).

// attributesVersion is the version of an object as its attributes give it.
func attributesVersion(scheme string, a *blob.Attributes) string {
	if scheme == "gs" {
		var o *storage.Object
		if a.As(&o) && o.Generation != 0 {
			return "generation " + strconv.FormatInt(o.Generation, 10)
		}
	}
	return a.ETag
}

// readerVersion is the version of the object a read returns, or "" when
// the response does not say.
func readerVersion(scheme string, r *blob.Reader) string {
	switch scheme {
	case "s3":
		var out s3.GetObjectOutput
		if r.As(&out) && out.ETag != nil {
			return *out.ETag
		}
	case "gs":
		var res *http.Response
		if r.As(&res) && res != nil && res.Header.Get("X-Goog-Generation") != "" {
			return "generation " + res.Header.Get("X-Goog-Generation")
		}
	case "azblob":
		var resp azblobblob.DownloadStreamResponse
		if r.As(&resp) && resp.ETag != nil {
			return string(*resp.ETag)
		}
	}
	return ""
}

// quietS3 keeps the AWS SDK from logging, on standard error, that a
// ranged read has no checksum to check: none has, and rtseg checks the
// version of what it reads instead.
func quietS3(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true }

// readerOptions are the options of every read.
func (f *FS) readerOptions() *blob.ReaderOptions {
	if f.loc.Scheme != "s3" {
		return nil
	}
	return &blob.ReaderOptions{BeforeRead: func(as func(any) bool) error {
		var opts *[]func(*s3.Options)
		if as(&opts) {
			*opts = append(*opts, quietS3)
		}
		return nil
	}}
}
