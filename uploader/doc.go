// Package uploader sends requests to the Instant Audience Service, the third
// stage of rtseg.
//
// It owns authentication (a given token, or a login renewed once for all
// workers when the service refuses the token), the bounded pool of workers
// (Run), the Limiter that holds POST calls and users per second under their
// settings in every one-second window, retries included (alone, or together
// with other processes through a shared Store: NewSharedLimiter, and
// uploader/redislimit for Redis), the retries with
// backoff (one pacer, for Send's POSTs and the API's GETs), the
// classification of answers, and the attribution of the service's warnings
// to the rows they concern. A request marked Ordered is sent only after
// every earlier request is done. Settings are checked once, by New and
// NewLimiter, as a *SettingError naming the flag. A problem with one
// request is an outcome in its Result (Err a typed error: *APIError,
// *GaveUpError, ErrInterrupted ...), not an error: only what ends the run
// is returned as an error: authentication refused, or, before the service
// has answered once, finding it unreachable or something else answering in
// its place (an *UnreachableError), as the API's read clients do too. Its
// HTTP clients never follow a redirect.
package uploader
