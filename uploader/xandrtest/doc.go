// Package xandrtest is a local stand-in for the Xandr Instant Audience Service
// and the parts of the API it relies on, in the spirit of net/http/httptest.
//
// It is written from the service's documentation, not from rtseg's own types,
// so that a misunderstanding shared by client and emulator cannot hide. It
// answers POST /rt-segment with the documented warnings and limits (per
// member, over every one-second window, counted when a call arrives), POST
// /auth (10 logins per 5 minutes), GET /segment (the Segment Service, for
// preflight checks), GET /rt-segment-processed (hourly usage statistics, for
// reconciliation) and GET /state (the user-segment associations it holds).
// Like the service, it accepts a user ID of any shape, but one that is not
// of its domain's shape (reader.CheckUserID) names no user on the platform:
// the usage statistics count it among the invalid users.
// Stats says what it saw: calls, answers, logins, and the most calls, users
// and concurrent calls in any window.
//
// Options lower its limits, give it a segment catalogue and inject faults: a
// fraction of calls answered 503 (with x-ratelimit-code if asked), dropped
// after processing, or answered late; tokens that expire after a duration.
// Faults are drawn from a seeded generator (WithSeed) so that a run can be
// reproduced.
package xandrtest
