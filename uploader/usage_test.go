package uploader

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtseg/rtseg/uploader/xandrtest"
)

func post(t *testing.T, h http.Handler, body string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/rt-segment", strings.NewReader(body))
	req.Header.Set("Authorization", testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /rt-segment: %d %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "inactive") {
		t.Errorf("the response tells of a dropped segment, which the service keeps silent: %s", rec.Body)
	}
}

// The usage statistics count per hour what the emulator processed,
// including the adds it dropped silently.
func TestUsageClientHours(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := xandrtest.NewHandler(xandrtest.WithToken(testToken), xandrtest.WithMember(1234), xandrtest.WithSegments(
			xandrtest.Segment{ID: 10},
			xandrtest.Segment{ID: 11, State: "inactive"},
			xandrtest.Segment{ID: 12, MemberID: 99},
		))
		first := time.Now().UTC().Truncate(time.Hour)
		post(t, h, `{"rt_segment":[
			{"user_id":"1","seg_block":[{"seg_id":10},{"seg_id":11},{"seg_id":13}]},
			{"user_id":"2","seg_block":[{"seg_id":12},{"seg_id":10,"expiration":-1}]},
			{"user_id":"3","seg_block":[{"seg_code":"x"}]}]}`)
		time.Sleep(time.Hour)
		post(t, h, `{"rt_segment":[{"user_id":"4","seg_block":[{"seg_id":10},{"seg_id":10,"expiration":5}]}]}`)

		c, err := NewUsageClient("http://127.0.0.1/rt-segment", ReadConfig{
			Auth:   StaticToken{Value: NewSecret(testToken)},
			Reads:  mustReadLimiter(t, UsageReadsPerSecond, time.Second),
			Client: &http.Client{Transport: handlerTransport{h}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(c.URL(), "/rt-segment-processed") {
			t.Errorf("URL() = %s, want the rt-segment-processed beside the endpoint", c.URL())
		}
		hours, err := c.Hours(t.Context(), 1234, first, first.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(hours) != 2 {
			t.Fatalf("Hours = %d rows, want 2: %+v", len(hours), hours)
		}
		h0, h1 := hours[0], hours[1]
		if !h0.Hour.Equal(first) || !h1.Hour.Equal(first.Add(time.Hour)) {
			t.Errorf("hours %v, %v; want %v and the next", h0.Hour, h1.Hour, first)
		}
		type counts struct{ users, adds, removes, invalidUsers, invalidSegs, unauth, inactive int64 }
		got := counts{h0.ValidUsers, h0.ValidAdds, h0.ValidRemoves, h0.InvalidUsers, h0.InvalidSegments, h0.UnauthSegments, h0.InactiveSegments}
		want := counts{users: 2, adds: 1, removes: 1, invalidUsers: 1, invalidSegs: 2, unauth: 1, inactive: 1}
		if got != want {
			t.Errorf("first hour = %+v, want %+v", got, want)
		}
		if h1.ValidUsers != 1 || h1.ValidAdds != 2 {
			t.Errorf("second hour: %d users, %d adds; want 1 and 2", h1.ValidUsers, h1.ValidAdds)
		}
		// The samples take the documented shapes: the segments dropped
		// among the errors, with the two warnings; the work done among
		// the segment lines.
		wantErrors := []string{
			"Inactive segments (id, code, segment owner member id): (11, '', 1234)",
			"Invalid segments (id, code, segment owner member id): (13, '', 0)",
			"Unauthorized segments (id, code, segment owner member id): (12, '', 99)",
		}
		if len(h0.ErrorLines) != 5 || strings.Join(h0.ErrorLines[:3], "|") != strings.Join(wantErrors, "|") {
			t.Errorf("first hour's error lines:\n%q\nwant these, then 2 warnings:\n%q", h0.ErrorLines, wantErrors)
		}
		wantValid := []string{
			"Valid additions (user id, segment id, expiration): (1, 10, '')",
			"Valid removals (user id, segment id, expiration): (2, 10, -1)",
		}
		if strings.Join(h0.SegmentLines, "|") != strings.Join(wantValid, "|") {
			t.Errorf("first hour's segment lines:\n%q\nwant\n%q", h0.SegmentLines, wantValid)
		}
		if _, err := c.Hours(t.Context(), 99, first, first.Add(time.Hour)); err == nil {
			t.Errorf("Hours of another member: no error, want one")
		}
	})
}

func TestParseUsage(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		rows       int
		adds       int64
		errorLines []string
	}{
		{"aggregated", `{"response":{"report":{"error_log_lines":null,"member_id":123,"num_valid_adds":181,"num_valid_users":"179","processed_hour":"2015-11-08 01:00:00"},"status":"OK"}}`, 1, 181, nil},
		{"hourly with text lines", `{"response":{"status":"OK","report":[{"processed_hour":"2015-11-08 02:00:00","num_valid_adds":2,"error_log_lines":"first\nsecond\n"},{"processed_hour":"2015-11-08 01:00:00","num_valid_adds":1}]}}`, 2, 1, nil},
		{"object lines", `{"status":"OK","report":[{"num_valid_adds":3,"error_log_lines":[{"user":"x"},"plain"]}]}`, 1, 3, []string{`{"user":"x"}`, "plain"}},
		{"nothing yet", `{"response":{"status":"OK","report":[]}}`, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hours, err := parseUsage([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(hours) != tt.rows {
				t.Fatalf("parseUsage = %d rows, want %d", len(hours), tt.rows)
			}
			if tt.rows == 0 {
				return
			}
			if hours[0].ValidAdds != tt.adds {
				t.Errorf("first row adds = %d, want %d", hours[0].ValidAdds, tt.adds)
			}
			if tt.errorLines != nil && strings.Join(hours[0].ErrorLines, "|") != strings.Join(tt.errorLines, "|") {
				t.Errorf("error lines = %q, want %q", hours[0].ErrorLines, tt.errorLines)
			}
		})
	}
	hours, _ := parseUsage([]byte(tests[1].body))
	if got := hours[1].ErrorLines; len(got) != 2 || got[1] != "second" {
		t.Errorf("error lines from text = %q, want [first second]", got)
	}
	if hours[0].ValidUsers != 0 || hours[1].MemberID != 0 {
		t.Errorf("absent counts are not zero: %+v", hours)
	}
	if _, err := parseUsage([]byte(`{"response":{"status":"error","error_id":"SYSTEM"}}`)); err == nil {
		t.Errorf("parseUsage(status error) = nil error, want one")
	}
}
