// Package chunker turns rows into requests, the second stage of rtseg.
//
// It owns grouping the rows of each user (same domain and user_id) into one
// rt_segment entry, deciding which of two rows for the same user and segment
// wins (the later), and packing entries into request bodies that respect every
// service limit: users per request, segments per user, and the exact size of
// the serialized body. It is synchronous and deterministic: the same rows and
// limits give the same bytes.
package chunker
