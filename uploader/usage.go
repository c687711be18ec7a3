package uploader

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// UsageTimeLayout is the format of the usage statistics' times, in UTC:
// start, end and processed_hour.
const UsageTimeLayout = "2006-01-02 15:04:05"

// UsageHour is one hour of what the service processed for a member, as
// GET /rt-segment-processed reports it. Its statistics are counted per
// request: a user added to a segment in three requests counts three times.
type UsageHour struct {
	Hour     time.Time // the start of the hour (processed_hour), UTC
	MemberID int64

	ValidUsers   int64
	ValidAdds    int64
	ValidRemoves int64

	InvalidUsers     int64
	InvalidSegments  int64
	UnauthSegments   int64
	InactiveSegments int64
	OtherErrors      int64

	// ErrorLines and SegmentLines are the service's samples of what went
	// wrong, as it wrote them.
	ErrorLines   []string
	SegmentLines []string
}

// UsageClient reads the service's usage statistics
// (GET {endpoint base}/rt-segment-processed), holding its calls under the
// service's GET limit.
type UsageClient struct {
	url string
	cfg ReadConfig
}

// NewUsageClient returns a client of the usage statistics beside endpoint,
// the rt-segment URL.
func NewUsageClient(endpoint string, cfg ReadConfig) (*UsageClient, error) {
	if err := CheckEndpoint(endpoint); err != nil {
		return nil, err
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	u = u.ResolveReference(&url.URL{Path: "rt-segment-processed"})
	if err := cfg.fill(UsageReadsPerSecond, LimitSpan); err != nil {
		return nil, err
	}
	return &UsageClient{url: u.String(), cfg: cfg}, nil
}

// URL is where the statistics are read.
func (c *UsageClient) URL() string { return redactURL(c.url) }

// Hours returns the member's hourly statistics from start to end, sorted
// by hour. Hours in which the service processed nothing may be absent.
func (c *UsageClient) Hours(ctx context.Context, member int64, start, end time.Time) ([]UsageHour, error) {
	q := url.Values{
		"member_id": {strconv.FormatInt(member, 10)},
		"start":     {start.UTC().Format(UsageTimeLayout)},
		"end":       {end.UTC().Format(UsageTimeLayout)},
	}
	body, err := c.cfg.get(ctx, c.url+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	hours, err := parseUsage(body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", c.URL(), err)
	}
	return hours, nil
}

// usageJSON is one row of the statistics. The field names are those of
// Xandr's "Check usage statistics" page; numbers may come as strings.
type usageJSON struct {
	ProcessedHour    string    `json:"processed_hour"`
	MemberID         apiInt    `json:"member_id"`
	ValidUsers       apiInt    `json:"num_valid_users"`
	ValidAdds        apiInt    `json:"num_valid_adds"`
	ValidRemoves     apiInt    `json:"num_valid_removes"`
	InvalidUsers     apiInt    `json:"num_invalid_users"`
	InvalidSegments  apiInt    `json:"num_invalid_segments"`
	UnauthSegments   apiInt    `json:"num_unauth_segments"`
	InactiveSegments apiInt    `json:"num_inactive_segments"`
	OtherErrors      apiInt    `json:"num_other_errors"`
	ErrorLines       textLines `json:"error_log_lines"`
	SegmentLines     textLines `json:"segment_log_lines"`
}

// parseUsage reads an answer of GET /rt-segment-processed, tolerantly: wrapped
// in "response" or not, "report" as one row (the aggregated form) or a list
// of hourly rows.
func parseUsage(body []byte) ([]UsageHour, error) {
	inner, err := unwrap(body)
	if err != nil {
		return nil, fmt.Errorf("unreadable answer: %w", err)
	}
	var r struct {
		Status string          `json:"status"`
		Report json.RawMessage `json:"report"`
	}
	if err := json.Unmarshal(inner, &r); err != nil {
		return nil, fmt.Errorf("unreadable answer: %w", err)
	}
	if r.Status != "" && r.Status != "OK" {
		return nil, fmt.Errorf("status %q", r.Status)
	}
	var rows []usageJSON
	switch t := bytes.TrimSpace(r.Report); {
	case len(t) == 0 || string(t) == "null":
	case t[0] == '[':
		if err := json.Unmarshal(t, &rows); err != nil {
			return nil, fmt.Errorf("unreadable report: %w", err)
		}
	default:
		var one usageJSON
		if err := json.Unmarshal(t, &one); err != nil {
			return nil, fmt.Errorf("unreadable report: %w", err)
		}
		rows = append(rows, one)
	}
	hours := make([]UsageHour, 0, len(rows))
	for _, j := range rows {
		h := UsageHour{
			MemberID:   int64(j.MemberID),
			ValidUsers: int64(j.ValidUsers), ValidAdds: int64(j.ValidAdds), ValidRemoves: int64(j.ValidRemoves),
			InvalidUsers: int64(j.InvalidUsers), InvalidSegments: int64(j.InvalidSegments),
			UnauthSegments: int64(j.UnauthSegments), InactiveSegments: int64(j.InactiveSegments),
			OtherErrors: int64(j.OtherErrors),
			ErrorLines:  j.ErrorLines, SegmentLines: j.SegmentLines,
		}
		if t, err := time.Parse(UsageTimeLayout, strings.TrimSpace(j.ProcessedHour)); err == nil {
			h.Hour = t
		}
		hours = append(hours, h)
	}
	sort.SliceStable(hours, func(i, k int) bool { return hours[i].Hour.Before(hours[k].Hour) })
	return hours, nil
}

// textLines reads log lines given as null, one string of lines, or a list of
// strings (or of objects, kept as compact JSON).
type textLines []string

func (l *textLines) UnmarshalJSON(b []byte) error {
	t := bytes.TrimSpace(b)
	*l = nil
	switch {
	case len(t) == 0 || string(t) == "null":
		return nil
	case t[0] == '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return err
		}
		for line := range strings.SplitSeq(s, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				*l = append(*l, line)
			}
		}
		return nil
	case t[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return err
		}
		for _, it := range items {
			var s string
			if json.Unmarshal(it, &s) == nil {
				*l = append(*l, s)
				continue
			}
			var c bytes.Buffer
			if json.Compact(&c, it) == nil {
				*l = append(*l, c.String())
			}
		}
		return nil
	}
	*l = append(*l, string(t))
	return nil
}
