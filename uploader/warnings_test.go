package uploader

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

// seg is a row's segment fields for building test requests: by ID or by
// code, with optional value and expiration.
type seg struct {
	id, member int64
	code       string
	value, exp *int32
}

func i32(v int32) *int32 { return &v }

func entryOf(domain, user string, segs ...seg) chunker.Entry {
	u := reader.User{Domain: domain, ID: user}
	rows := make([]reader.Row, len(segs))
	for i, s := range segs {
		r := reader.Row{UserID: user, Domain: domain, SegID: s.id, SegCode: s.code, MemberID: s.member}
		if s.value != nil {
			r.Value, r.HasValue = *s.value, true
		}
		if s.exp != nil {
			r.Expiration, r.HasExpiration = *s.exp, true
		}
		rows[i] = r
	}
	return chunker.Entry{User: u, Rows: rows}
}

func warningsOf(t *testing.T, body string) []respWarning {
	t.Helper()
	r, err := parseResponse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return r.Warnings
}

func TestAttribute(t *testing.T) {
	bad := seg{id: 2, value: i32(1), exp: i32(-5)}
	good := func(id int64) seg { return seg{id: id, value: i32(1), exp: i32(1440)} }
	tests := []struct {
		name       string
		entries    []chunker.Entry
		response   string
		wantWarned map[RowRef]string
		wantResent []int
	}{
		{
			name:    "the documentation's example, bare shape",
			entries: []chunker.Entry{entryOf("", "1", seg{code: "abc", value: i32(1), exp: i32(1)})},
			response: `{"status":"OK","message":{"users_in_request":0,"segments_in_request":0},"warnings":[
				{"message":"'seg_id' or 'seg_code' and 'member_id' are required","entity":{"seg_code":"abc","value":1,"expiration":1}},
				{"message":"No valid segments for user_id: 1.","entity":{"user_id":"1","seg_block":[{"seg_code":"abc","value":1,"expiration":1}]}},
				{"message":"No valid rt_segment in request.","entity":{"rt_segment":[{"user_id":"1","seg_block":[{"seg_code":"abc","value":1,"expiration":1}]}]}}]}`,
			wantWarned: map[RowRef]string{{0, 0}: "'seg_id' or 'seg_code' and 'member_id' are required"},
		},
		{
			name: "identical blocks of many users, in request order",
			entries: []chunker.Entry{
				entryOf("", "a", good(1), bad), entryOf("", "b", good(1)), entryOf("", "c", bad, good(3)),
				entryOf("", "d", good(1)), entryOf("", "e", good(1), good(3), bad),
			},
			response: `{"response":{"status":"OK","warnings":[
				{"message":"bad expiration","entity":{"seg_id":2,"value":1,"expiration":-5}},
				{"message":"bad expiration","entity":{"seg_id":2,"value":1,"expiration":-5}},
				{"message":"bad expiration","entity":{"seg_id":2,"value":1,"expiration":-5}}]}}`,
			wantWarned: map[RowRef]string{{0, 1}: "bad expiration", {2, 0}: "bad expiration", {4, 2}: "bad expiration"},
		},
		{
			name: "a user-level warning before the user's block warnings",
			entries: []chunker.Entry{
				entryOf("", "a", bad), entryOf("", "b", good(1), bad, good(3), good(4)), entryOf("", "c", bad),
			},
			response: `{"response":{"status":"OK","warnings":[
				{"message":"bad expiration","entity":{"seg_id":2,"value":1,"expiration":-5}},
				{"message":"No valid segments for user_id: a.","entity":{"user_id":"a","seg_block":[{"seg_id":2,"value":1,"expiration":-5}]}},
				{"message":"too many segments","entity":{"user_id":"b","seg_block":[{"seg_id":4,"value":1,"expiration":1440}]}},
				{"message":"bad expiration","entity":{"seg_id":2,"value":1,"expiration":-5}},
				{"message":"bad expiration","entity":{"seg_id":2,"value":1,"expiration":-5}},
				{"message":"No valid segments for user_id: c.","entity":{"user_id":"c","seg_block":[{"seg_id":2,"value":1,"expiration":-5}]}}]}}`,
			wantWarned: map[RowRef]string{
				{0, 0}: "bad expiration", {1, 3}: "too many segments", {1, 1}: "bad expiration", {2, 0}: "bad expiration",
			},
		},
		{
			name: "too many users: sent again, not warned; entity without domain",
			entries: []chunker.Entry{
				entryOf("", "x", good(1)), entryOf("idfa", "x", good(1)), entryOf("aaid", "x", good(1)), entryOf("", "y", good(1)),
			},
			response: `{"response":{"status":"OK","warnings":[
				{"message":"Too many user_ids in request.","entity":{"user_id":"x","seg_block":[{"seg_id":1,"value":1,"expiration":1440}]}},
				{"message":"Too many user_ids in request.","entity":{"user_id":"y","seg_block":[{"seg_id":1,"value":1,"expiration":1440}]}}]}}`,
			wantResent: []int{2, 3},
		},
		{
			name:    "user-level entity with a domain picks that domain",
			entries: []chunker.Entry{entryOf("", "x", good(1)), entryOf("idfa", "x", good(1))},
			response: `{"response":{"status":"OK","warnings":[
				{"message":"Invalid domain","entity":{"user_id":"x","domain":"idfa","seg_block":[{"seg_id":1}]}}]}}`,
			wantWarned: map[RowRef]string{{1, 0}: "Invalid domain"},
		},
		{
			name:    "segment code blocks",
			entries: []chunker.Entry{entryOf("", "a", seg{code: "fans", member: 7}, seg{code: "fans", member: 8})},
			response: `{"response":{"status":"OK","warnings":[
				{"message":"inactive","entity":{"seg_code":"fans","member_id":8}}]}}`,
			wantWarned: map[RowRef]string{{0, 1}: "inactive"},
		},
		{
			name:    "a second warning for one block keeps the first",
			entries: []chunker.Entry{entryOf("", "a", bad, good(1))},
			response: `{"response":{"status":"OK","warnings":[
				{"message":"first","entity":{"seg_id":2,"value":1,"expiration":-5}},
				{"message":"second","entity":{"seg_id":2,"value":1,"expiration":-5}}]}}`,
			wantWarned: map[RowRef]string{{0, 0}: "first"},
		},
		{
			name:    "a warning for rows that are not there warns every row",
			entries: []chunker.Entry{entryOf("", "a", good(1)), entryOf("", "b", good(1))},
			response: `{"response":{"status":"OK","warnings":[
				{"message":"who?","entity":{"user_id":"nobody"}}]}}`,
			wantWarned: map[RowRef]string{{0, 0}: "who?", {1, 0}: "who?"},
		},
		{
			name:       "no warnings",
			entries:    []chunker.Entry{entryOf("", "a", good(1))},
			response:   `{"response":{"status":"OK","warnings":[]}}`,
			wantWarned: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := chunker.Encode(0, tt.entries)
			warned, resent := attribute(req, warningsOf(t, tt.response))
			if !maps.Equal(warned, tt.wantWarned) {
				t.Errorf("warned rows:\n got %v\nwant %v", warned, tt.wantWarned)
			}
			slices.Sort(resent)
			if !slices.Equal(resent, tt.wantResent) {
				t.Errorf("resent %v, want %v", resent, tt.wantResent)
			}
		})
	}
}

// Against the emulator: 30 users in one request share identical seg_blocks,
// some invalid; the emulator takes only 20 users per request and 3 segments
// per user. Every warning lands on the exact rows it concerns, and the users
// refused as too many are sent again and accounted once.
func TestWarningsAgainstEmulator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := xandrtest.NewHandler(xandrtest.WithToken(testToken), xandrtest.WithRequestLimits(20, 3, 1_000_000))
		u := newTestUploader(t, handlerTransport{emu}, Config{Workers: 2, MaxRetries: 2})
		bad := seg{id: 2, value: i32(1), exp: i32(-5)}
		good := func(id int64) seg { return seg{id: id, value: i32(1), exp: i32(1440)} }
		var entries []chunker.Entry
		want := map[string]string{} // user/segment -> outcome
		for i := range 30 {
			user := fmt.Sprintf("user-%02d", i)
			var segs []seg
			switch {
			case i == 5 || i == 25: // more segments than the emulator takes
				segs = []seg{good(1), bad, good(3), good(4), good(5)}
				want[user+"/4"] = "warned: " + fmt.Sprintf(xandrtest.MsgTooManySegments, user, 3)
				want[user+"/5"] = "warned: " + fmt.Sprintf(xandrtest.MsgTooManySegments, user, 3)
			case i%3 == 0:
				segs = []seg{good(1), bad, good(3)}
			case i%3 == 1: // no valid segment at all
				segs = []seg{bad}
			default:
				segs = []seg{good(1), good(3)}
			}
			for _, s := range segs {
				key := fmt.Sprintf("%s/%d", user, s.id)
				if _, ok := want[key]; ok {
					continue
				}
				want[key] = "accepted"
				if s.exp != nil && *s.exp == -5 {
					want[key] = "warned: " + xandrtest.MsgBadExpiration
				}
			}
			entries = append(entries, entryOf("", user, segs...))
		}
		var got results
		if err := u.Run(t.Context(), feed([]*chunker.Request{chunker.Encode(0, entries)}), got.add); err != nil {
			t.Fatal(err)
		}
		outcomes := map[string]string{}
		for key, o := range got.outcomes() {
			if len(o) != 1 {
				t.Errorf("row %s has outcomes %q, want one", key, o)
			}
			outcomes[key[1:]] = o[0] // drop the empty domain's "/"
		}
		if !reflect.DeepEqual(outcomes, want) {
			for k, w := range want {
				if outcomes[k] != w {
					t.Errorf("row %s: %q, want %q", k, outcomes[k], w)
				}
			}
			if len(outcomes) != len(want) {
				t.Errorf("%d rows have outcomes, want %d", len(outcomes), len(want))
			}
		}
		if len(got.all) != 2 || len(got.all[0].Resent) != 10 {
			t.Errorf("%d results, the first resending %d users; want 2, resending 10", len(got.all), len(got.all[0].Resent))
		}
	})
}

// The warnings' entities keep absent fields apart from zero.
func TestBlockMatches(t *testing.T) {
	row := reader.Row{SegID: 5, Value: 0, HasValue: true}
	var b block
	json.Unmarshal([]byte(`{"seg_id":5,"value":0}`), &b)
	if !b.matches(&row) {
		t.Error(`{"seg_id":5,"value":0} does not match a row with seg_id 5 and value 0`)
	}
	row.HasValue = false
	if b.matches(&row) {
		t.Error(`{"seg_id":5,"value":0} matches a row without a value`)
	}
	var idOnly block
	json.Unmarshal([]byte(`{"seg_id":5}`), &idOnly)
	if !idOnly.matches(&row) {
		t.Error(`{"seg_id":5} does not match a row with seg_id 5`)
	}
}
