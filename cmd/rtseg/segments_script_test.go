package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

// otherMember owns the segments of mock's other= option.
const otherMember = 9999

// mockSegments reads the segments of one of mock's catalogue options, a list
// of IDs or MEMBER:CODE pairs: segments= are usable, inactive= inactive,
// other= owned by member 9999, fresh= modified a minute ago. Any of them
// gives the emulator a catalogue: a segment not listed does not exist.
func mockSegments(ts *testscript.TestScript, kind, list string) []xandrtest.Segment {
	var segs []xandrtest.Segment
	for _, ref := range strings.Split(list, ",") {
		var s xandrtest.Segment
		if member, code, ok := strings.Cut(ref, ":"); ok {
			m, err := strconv.ParseInt(member, 10, 64)
			ts.Check(err)
			s.MemberID, s.Code = m, code
		} else {
			id, err := strconv.ParseInt(ref, 10, 64)
			ts.Check(err)
			s.ID = id
		}
		switch kind {
		case "inactive":
			s.State = "inactive"
		case "other":
			s.MemberID = otherMember
		case "fresh":
			s.LastModified = time.Now().Add(-time.Minute)
		}
		segs = append(segs, s)
	}
	return segs
}
