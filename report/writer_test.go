package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rtseg/rtseg/reader"
)

// awkward holds text a report must carry unchanged: quotes, separators,
// line breaks, HTML characters, U+2028, invalid UTF-8.
var awkward = Line{
	Pos: reader.Position{File: `dir/"a,b".csv`, Line: 12},
	Fields: reader.Fields{UserID: "u<1>&\"2\"", Domain: "idfa", SegID: "1\n2", SegCode: "a,b", MemberID: "\u2028",
		Value: "\xff\xfe", Expiration: `\`},
	Outcome: Invalid, Reason: `seg_id "1\n2" is not a whole number`, Attempts: 3,
}

// TestJSONLMatchesEncodingJSON checks that a JSONL report line is the
// object encoding/json makes of the report's columns in their order, byte
// for byte, however awkward the text.
func TestJSONLMatchesEncodingJSON(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, "jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&awkward); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The line as encoding/json writes a struct with the columns' names.
	f := awkward.Fields
	var want bytes.Buffer
	json.NewEncoder(&want).Encode(struct {
		File       string `json:"file"`
		Line       int64  `json:"line"`
		UserID     string `json:"user_id"`
		Domain     string `json:"domain"`
		SegID      string `json:"seg_id"`
		SegCode    string `json:"seg_code"`
		MemberID   string `json:"member_id"`
		Value      string `json:"value"`
		Expiration string `json:"expiration"`
		Outcome    string `json:"outcome"`
		Reason     string `json:"reason"`
		Attempts   int    `json:"attempts"`
	}{awkward.Pos.File, awkward.Pos.Line, f.UserID, f.Domain, f.SegID, f.SegCode, f.MemberID, f.Value, f.Expiration,
		awkward.Outcome.String(), awkward.Reason, awkward.Attempts})
	if buf.String() != want.String() {
		t.Errorf("JSONL line\n%s\nwant\n%s", buf.String(), want.String())
	}
}

// TestCSVReportColumns checks that a CSV report line puts each value under
// its column, SPEC §6's order, and reads back unchanged.
func TestCSVReportColumns(t *testing.T) {
	wantColumns := "file,line,user_id,domain,seg_id,seg_code,member_id,value,expiration,outcome,reason,attempts"
	if got := strings.Join(Columns, ","); got != wantColumns {
		t.Errorf("Columns = %s, want %s", got, wantColumns)
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, "csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&awkward); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("read the report back: %d records, %v", len(recs), err)
	}
	f := awkward.Fields
	want := map[string]string{
		"file": awkward.Pos.File, "line": "12", "user_id": f.UserID, "domain": f.Domain, "seg_id": f.SegID,
		"seg_code": f.SegCode, "member_id": f.MemberID, "value": f.Value, "expiration": f.Expiration,
		"outcome": "invalid", "reason": awkward.Reason, "attempts": "3",
	}
	for i, col := range recs[0] {
		if got := recs[1][i]; got != want[col] {
			t.Errorf("column %s = %q, want %q", col, got, want[col])
		}
	}
}

// TestFailedColumns checks that the failed-rows file has the input's field
// names as its header, so rtseg upload reads it back unchanged.
func TestFailedColumns(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewFailedWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	row := reader.Validate(reader.Position{}, reader.Fields{UserID: "u", SegCode: "c", MemberID: "7", Expiration: "0"}, reader.Defaults{})
	if err := w.Write(&row); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "user_id,domain,seg_id,seg_code,member_id,value,expiration\nu,,,c,7,,0\n"
	if buf.String() != want {
		t.Errorf("failed file\n%s\nwant\n%s", buf.String(), want)
	}
}
