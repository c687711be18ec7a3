// Package objstore reads inputs from, and writes outputs to, object stores:
// Amazon S3 and S3-compatible stores (s3://), Google Cloud Storage (gs://)
// and Azure Blob Storage (azblob://), through gocloud.dev/blob: gocloud's
// drivers for S3 and Azure, and one of this package's for GCS (gcs.go).
//
// A URL names a bucket and a key or prefix; its query parameters are
// gocloud's (for example ?endpoint=…&use_path_style=true for MinIO or R2).
// Credentials come only from each cloud's standard chain: environment,
// profile or workload identity.
//
// FS shows a bucket as an io/fs.FS: a prefix is a folder, an object a
// file. A file reads as a stream that survives a connection lost part way
// (it reopens at its offset, and refuses an object that changed meanwhile)
// and by ranges (io.ReaderAt), so that a Parquet reader fetches only the
// footer and the column chunks it needs.
//
// The package stands alone: it knows nothing of rows, requests or
// reports.
package objstore
