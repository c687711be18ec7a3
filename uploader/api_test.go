package uploader

import "testing"

func TestURLsShownWithoutSecrets(t *testing.T) {
	tests := []struct {
		raw, bare, redacted string
	}{
		{"https://streaming-data.appnexus.com/rt-segment", "https://streaming-data.appnexus.com/rt-segment", "https://streaming-data.appnexus.com/rt-segment"},
		{"https://ops:hunter2@api.example/segment?id=7&access_token=t0k3n#top",
			"https://api.example/segment",
			"https://ops:xxxxx@api.example/segment?access_token=%5Bredacted%5D&id=7#top"},
		{"http://127.0.0.1:8080/rt-segment?member_id=1", "http://127.0.0.1:8080/rt-segment", "http://127.0.0.1:8080/rt-segment?member_id=1"},
		{"http://[::1", "", "(unparsable URL)"},
	}
	for _, tt := range tests {
		if got := BareURL(tt.raw); got != tt.bare {
			t.Errorf("BareURL(%q) = %q, want %q", tt.raw, got, tt.bare)
		}
		if got := redactURL(tt.raw); got != tt.redacted {
			t.Errorf("redactURL(%q) = %q, want %q", tt.raw, got, tt.redacted)
		}
	}
}

// Both documented shapes of an answer read the same.
func TestParseResponseShapes(t *testing.T) {
	for _, body := range []string{
		`{"response":{"status":"error","error_id":"SYNTAX","error":"bad"}}`,
		`{"status":"error","error_id":"SYNTAX","error":"bad"}`,
		`{"response":null,"status":"error","error_id":"SYNTAX","error":"bad"}`,
	} {
		r, err := parseResponse([]byte(body))
		if err != nil || r.Status != "error" || r.ErrorID != "SYNTAX" || r.Error != "bad" {
			t.Errorf("parseResponse(%s) = %+v, %v; want status error, SYNTAX, bad", body, r, err)
		}
	}
	for _, body := range []string{`not json`, `{"response":"OK"}`, `[]`} {
		if r, err := parseResponse([]byte(body)); err == nil {
			t.Errorf("parseResponse(%s) = %+v, want an error", body, r)
		}
	}
}
