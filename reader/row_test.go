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
