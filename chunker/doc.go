// Package chunker turns rows into requests, the second stage of rtseg.
//
// It owns grouping the rows of each user (same domain and user_id) into one
// rt_segment entry, deciding which of two rows for the same user and segment
// wins (the later in the input), and packing entries into request bodies
// that respect every service limit: users per request, segments per user,
// and the exact size of the serialized body.
//
// Two groupers feed the Packer. Grouper takes rows in any order and holds
// them within a memory budget, spilling sorted runs to temporary files past
// it and merging them at the end, so each user is packed once. Adjacent
// takes input already grouped by user and streams it in constant memory; a
// user that comes back is packed again into a request marked Ordered.
//
// Intake is the stage's loop: it takes rows from the reader, hands invalid
// ones on to the report, skips what an earlier run delivered, groups and
// packs the rest, and queues each request for the uploader, telling the
// report of every outcome it decides on the way.
//
// It is synchronous and deterministic: the same rows and limits give the
// same bytes, and Grouper gives the same bytes for the same rows in any
// order, spilled or not.
package chunker
