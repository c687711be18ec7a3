package reader

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// Position is where a row came from: the file and, for CSV, the 1-based line on
// which its record starts (the header is line 1); for Parquet, the 1-based row
// number.
type Position struct {
	File string
	Line int64
}

// String formats the position as "file:line", as go/token.Position does.
func (p Position) String() string {
	return p.File + ":" + strconv.FormatInt(p.Line, 10)
}

// The fields of a row, in report order: indexes into fieldNames, a record
// and Fields.at.
const (
	fUserID = iota
	fDomain
	fSegID
	fSegCode
	fMemberID
	fValue
	fExpiration
	numFields
)

// fieldNames are the names of the fields, in report order.
var fieldNames = [numFields]string{"user_id", "domain", "seg_id", "seg_code", "member_id", "value", "expiration"}

// FieldNames returns the names of a row's fields, as input columns and
// --columns name them, in the order the report and the failed-rows file
// list them.
func FieldNames() [7]string { return fieldNames }

// Fields are the seven fields of a row as text, as they were read (for invalid
// rows) or as they will be sent (for valid rows). Empty means absent.
type Fields struct {
	UserID     string
	Domain     string
	SegID      string
	SegCode    string
	MemberID   string
	Value      string
	Expiration string
}

// Values returns the fields' text in the order of FieldNames.
func (f *Fields) Values() [7]string {
	var v [numFields]string
	for i := range v {
		v[i] = *f.at(i)
	}
	return v
}

// at returns the field at index i of FieldNames.
func (f *Fields) at(i int) *string {
	switch i {
	case fUserID:
		return &f.UserID
	case fDomain:
		return &f.Domain
	case fSegID:
		return &f.SegID
	case fSegCode:
		return &f.SegCode
	case fMemberID:
		return &f.MemberID
	case fValue:
		return &f.Value
	case fExpiration:
		return &f.Expiration
	}
	panic("reader: no field " + strconv.Itoa(i))
}

// Row is one user-segment association.
//
// A valid row has a nil Err. An invalid row keeps why it was refused in Err
// (a *FieldError naming the field and the rule broken, or a *RecordError
// for a CSV record that could not be read as fields) and its fields as read
// in Raw. If its user_id and domain broke no rule, UserID and Domain name
// its user as for a valid row (so that rtseg sync keeps that user's
// associations); they are empty otherwise, and its other fields are
// unreliable.
// Absent optional numbers are kept apart from zero with the Has flags: an
// expiration of 0 means "never expires", while an absent one leaves the choice
// to the service's default.
type Row struct {
	Pos      Position
	UserID   string
	Domain   string // "" for a Xandr user ID
	SegID    int64  // 0 when the segment is named by SegCode and MemberID
	SegCode  string
	MemberID int64 // 0 when absent

	Value         int32
	HasValue      bool
	Expiration    int32
	HasExpiration bool

	Err error
	// Raw is set for invalid rows only: a pointer keeps valid rows, which
	// grouping holds by the million, small.
	Raw *Fields
}

// Valid reports whether the row passed validation.
func (r *Row) Valid() bool { return r.Err == nil }

// Segment identifies the row's segment.
func (r *Row) Segment() Segment {
	if r.SegID != 0 {
		return Segment{ID: r.SegID}
	}
	return Segment{MemberID: r.MemberID, Code: r.SegCode}
}

// User identifies the row's user.
func (r *Row) User() User { return User{Domain: r.Domain, ID: r.UserID} }

// Removes reports whether the row removes its user from the segment.
func (r *Row) Removes() bool { return r.HasExpiration && r.Expiration == ExpirationRemove }

// Fields returns the row as text: the raw fields of an invalid row, the values
// to be sent for a valid one (defaults applied).
func (r *Row) Fields() Fields {
	if !r.Valid() {
		if r.Raw == nil {
			return Fields{}
		}
		return *r.Raw
	}
	f := Fields{UserID: r.UserID, Domain: r.Domain, SegCode: r.SegCode}
	if r.SegID != 0 {
		f.SegID = strconv.FormatInt(r.SegID, 10)
	}
	if r.MemberID != 0 {
		f.MemberID = strconv.FormatInt(r.MemberID, 10)
	}
	if r.HasValue {
		f.Value = strconv.FormatInt(int64(r.Value), 10)
	}
	if r.HasExpiration {
		f.Expiration = strconv.FormatInt(int64(r.Expiration), 10)
	}
	return f
}

// User is the identity the service keys users by: domain and user ID.
type User struct {
	Domain string
	ID     string
}

// Segment identifies a segment either by ID or by member and code.
type Segment struct {
	ID       int64
	MemberID int64
	Code     string
}

// Compare orders segments as rtseg lists them: those named by ID first, by
// ID, then the others by member, then code. It returns -1, 0 or +1.
func (s Segment) Compare(t Segment) int {
	switch {
	case (s.ID != 0) != (t.ID != 0):
		if s.ID != 0 {
			return -1
		}
		return 1
	case s.ID != t.ID:
		return cmp.Compare(s.ID, t.ID)
	case s.MemberID != t.MemberID:
		return cmp.Compare(s.MemberID, t.MemberID)
	}
	return strings.Compare(s.Code, t.Code)
}

// String gives "123" for a segment ID and "member:code" otherwise.
func (s Segment) String() string {
	if s.ID != 0 {
		return strconv.FormatInt(s.ID, 10)
	}
	return fmt.Sprintf("%d:%s", s.MemberID, s.Code)
}
