// Package uploader sends requests to the Instant Audience Service, the third
// stage of rtseg.
//
// It owns authentication, the bounded pool of workers, the limiters that hold
// POST calls and users per second under their settings in every one-second
// window, retries with backoff, the classification of responses, and the
// attribution of the service's warnings to the rows they concern. A problem
// with one request is an outcome in its Result, not an error: only what ends
// the run (authentication refused) is returned as an error.
package uploader
