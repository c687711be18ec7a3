// Package xandrtest is a local stand-in for the Xandr Instant Audience Service
// and the parts of the API it relies on, in the spirit of net/http/httptest.
//
// It is written from the service's documentation, not from rtseg's own types,
// so that a misunderstanding shared by client and emulator cannot hide. It
// answers POST /rt-segment with the documented warnings and limits, POST /auth,
// GET /segment (the Segment Service, for preflight checks), GET
// /rt-segment-processed (hourly usage statistics, for reconciliation) and
// GET /state (the user-segment associations it holds). Options lower its
// limits, inject faults and give it a segment catalogue.
package xandrtest
