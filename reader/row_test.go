package reader

import (
	"slices"
	"testing"
)

// Segments are listed by ID first, then by member and code, in the summary
// and in rtseg segments check alike.
func TestSegmentCompare(t *testing.T) {
	want := []Segment{
		{ID: 2}, {ID: 10}, {ID: 300},
		{MemberID: 5, Code: "b"}, {MemberID: 7, Code: "a"}, {MemberID: 7, Code: "b"},
	}
	got := []Segment{want[4], want[2], want[5], want[0], want[3], want[1]}
	slices.SortFunc(got, Segment.Compare)
	if !slices.Equal(got, want) {
		t.Errorf("sorted %v, want %v", got, want)
	}
	for _, s := range want {
		if c := s.Compare(s); c != 0 {
			t.Errorf("%v compared with itself = %d, want 0", s, c)
		}
	}
}

// The fields are named and ordered as SPEC §3 and §6 list them: input
// columns, the report's columns and the failed-rows file follow this order.
func TestFieldNamesAndValues(t *testing.T) {
	want := [...]string{"user_id", "domain", "seg_id", "seg_code", "member_id", "value", "expiration"}
	if got := FieldNames(); got != want {
		t.Errorf("FieldNames() = %v, want %v", got, want)
	}
	f := Fields{UserID: "u", Domain: "idfa", SegID: "1", SegCode: "c", MemberID: "2", Value: "3", Expiration: "4"}
	if got, want := f.Values(), [...]string{"u", "idfa", "1", "c", "2", "3", "4"}; got != want {
		t.Errorf("%+v.Values() = %v, want %v", f, got, want)
	}
}
