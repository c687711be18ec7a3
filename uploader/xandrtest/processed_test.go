package xandrtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func call(t *testing.T, h http.Handler, method, target, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "tok")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out struct {
		Response map[string]any `json:"response"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: unreadable answer %q", method, target, rec.Body)
	}
	return rec.Code, out.Response
}

// With a catalogue, adds to unusable segments are dropped without a word in
// the response: only the state and the usage statistics show it.
func TestCatalogueDropsSilently(t *testing.T) {
	h := NewHandler(WithToken("tok"), WithMember(7), WithSegments(
		Segment{ID: 1},
		Segment{ID: 2, State: "inactive"},
		Segment{ID: 3, MemberID: 8},
		Segment{ID: 4, LastModified: time.Now().Add(-time.Minute)},
		Segment{Code: "Fans"},
	))
	code, resp := call(t, h, "POST", "/rt-segment", `{"rt_segment":[{"user_id":"42","seg_block":[
		{"seg_id":1},{"seg_id":2},{"seg_id":3},{"seg_id":4},{"seg_id":5},
		{"seg_code":"fans","member_id":7},{"seg_code":"fans","member_id":8}]}]}`)
	if code != http.StatusOK || len(resp["warnings"].([]any)) != 0 {
		t.Fatalf("POST = %d %v, want 200 without warnings", code, resp)
	}
	segs := h.State()[UserKey{UserID: "42"}]
	if len(segs) != 2 {
		t.Errorf("state holds %v, want segments 1 and 7:fans only", segs)
	}
	if _, ok := segs["7:fans"]; !ok {
		t.Errorf("state lacks 7:fans: %v", segs)
	}

	now := time.Now().UTC()
	q := "/rt-segment-processed?member_id=7&agg=true&start=" + now.Add(-time.Hour).Format("2006-01-02+15:04:05") + "&end=" + now.Add(time.Hour).Format("2006-01-02+15:04:05")
	code, resp = call(t, h, "GET", q, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d %v", q, code, resp)
	}
	report := resp["report"].(map[string]any)
	want := map[string]float64{"num_valid_users": 1, "num_valid_adds": 2, "num_inactive_segments": 1, "num_unauth_segments": 1, "num_invalid_segments": 3}
	for k, v := range want {
		if report[k] != v {
			t.Errorf("%s = %v, want %v", k, report[k], v)
		}
	}
}

func TestSegmentLookup(t *testing.T) {
	h := NewHandler(WithToken("tok"), WithMember(7), WithSegments(Segment{ID: 1}, Segment{ID: 2, Code: "Fans", State: "inactive"}))
	tests := []struct {
		target string
		code   int
		count  float64
	}{
		{"/segment?id=1,2,3", 200, 2},
		{"/segment?id=3", 404, 0},
		{"/segment?code=FANS&member_id=7", 200, 1},
		{"/segment?code=fans&member_id=8", 404, 0},
		{"/segment", 200, 2},
		{"/segment?id=x", 400, 0},
	}
	for _, tt := range tests {
		code, resp := call(t, h, "GET", tt.target, "")
		if code != tt.code || (code == 200 && resp["count"] != tt.count) {
			t.Errorf("GET %s = %d count %v, want %d count %v", tt.target, code, resp["count"], tt.code, tt.count)
		}
	}
	_, resp := call(t, h, "GET", "/segment?id=2", "")
	seg := resp["segments"].([]any)[0].(map[string]any)
	if seg["state"] != "inactive" || seg["code"] != "Fans" || seg["member_id"] != float64(7) {
		t.Errorf("segment 2 = %v", seg)
	}
	if _, err := time.Parse(lastModifiedLayout, seg["last_modified"].(string)); err != nil {
		t.Errorf("last_modified: %v", err)
	}
}

// The service accepts a user ID of any shape, as its own examples do
// ("asdf"), but one that names no user on the platform counts among the
// invalid users of the usage statistics, not the valid ones.
func TestUnknownUsersCountInvalid(t *testing.T) {
	h := NewHandler(WithToken("tok"), WithMember(7))
	code, resp := call(t, h, "POST", "/rt-segment", `{"rt_segment":[
		{"user_id":"asdf","seg_block":[{"seg_id":1}]},
		{"user_id":"42","domain":"idfa","seg_block":[{"seg_id":1}]},
		{"user_id":"6d92078a-8246-4ba4-ae5b-76104861e7dc","domain":"aaid","seg_block":[{"seg_id":1},{"seg_id":2,"expiration":-1}]},
		{"user_id":"42","seg_block":[{"seg_id":1}]}]}`)
	if code != http.StatusOK || len(resp["warnings"].([]any)) != 0 || resp["message"].(map[string]any)["users_in_request"] != float64(4) {
		t.Fatalf("POST = %d %v, want 200 with 4 users and no warnings", code, resp)
	}
	if _, ok := h.State()[UserKey{UserID: "asdf"}]; !ok {
		t.Errorf("state lacks the user asdf the response accepted")
	}
	now := time.Now().UTC()
	q := "/rt-segment-processed?member_id=7&start=" + now.Add(-time.Hour).Format("2006-01-02+15:04:05") + "&end=" + now.Add(time.Hour).Format("2006-01-02+15:04:05")
	code, resp = call(t, h, "GET", q, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d %v", q, code, resp)
	}
	report := resp["report"].([]any)[0].(map[string]any)
	want := map[string]float64{"num_valid_users": 2, "num_invalid_users": 2, "num_valid_adds": 2, "num_valid_removes": 1}
	for k, v := range want {
		if report[k] != v {
			t.Errorf("%s = %v, want %v", k, report[k], v)
		}
	}
	lines := fmt.Sprint(report["error_log_lines"])
	for _, who := range []string{`user_id "asdf"`, `idfa user_id "42"`} {
		if !strings.Contains(lines, "Invalid user: "+who+" is no user on the platform") {
			t.Errorf("error lines %s do not name %s", lines, who)
		}
	}
}
