package xandrtest

// Warning messages, quoted exactly from the service's documentation.
const (
	MsgTooManyUsers     = "Too many user_ids in request."
	MsgSegmentRequired  = "'seg_id' or 'seg_code' and 'member_id' are required"
	MsgNoValidSegments  = "No valid segments for user_id: %s."
	MsgNoValidRequest   = "No valid rt_segment in request."
	MsgSegBlockRequired = "'seg_block' is required"
	MsgUserIDRequired   = "'user_id' is required and cannot be empty"
)

// Messages for cases the documentation names but does not quote; the
// wording is the emulator's own, in the documented style.
const (
	MsgTooManySegments = "Too many segments for user_id: %s. Only the first %d were processed."
	MsgInvalidDomain   = "Invalid domain for user_id: %s."
	MsgBothSegmentKeys = "Only one of 'seg_id' or 'seg_code' may be given"
	MsgBadExpiration   = "'expiration' must be -1, 0 or a positive number of minutes"
	MsgRateLimited     = "Rate limit exceeded. You have exceeded your request limit of %d writes per 1 seconds to rt-segment, please wait and try again or contact Xandr for higher limits"
	MsgUserRateLimited = "Rate limit exceeded. You have exceeded your limit of %d users per 1 seconds to rt-segment, please wait and try again or contact Xandr for higher limits"
	MsgNotLoggedIn     = "Authentication failed - not logged in"
	MsgBadLogin        = "No match found for user/pass"
	MsgTooLarge        = "Request body exceeds the %d-byte payload limit"
	MsgUnavailable     = "Service temporarily unavailable, please try again"
	// MsgLoginRateLimited answers logins over the API's limit (10 per 5
	// minutes).
	MsgLoginRateLimited = "Rate limit exceeded. You have exceeded your limit of %d logins per %s to auth, please wait and try again"
)

// HeaderRateLimitCode is the header the API adds to a 503 that throttles.
const HeaderRateLimitCode = "x-ratelimit-code"

// API error identifiers, as the Xandr API uses them in error_id.
const (
	ErrNoAuth       = "NOAUTH"
	ErrUnauth       = "UNAUTH"
	ErrRateExceeded = "RATE_EXCEEDED"
	ErrSyntax       = "SYNTAX"
	ErrSystem       = "SYSTEM"
)
