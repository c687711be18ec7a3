package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtseg/rtseg/reader"
)

func TestOutputsCreate(t *testing.T) {
	dir := t.TempDir()
	out := Outputs{Report: filepath.Join(dir, "r.jsonl"), ReportFormat: "jsonl", Failed: filepath.Join(dir, "failed.csv")}
	rec, err := out.Create("upload", nil)
	if err != nil {
		t.Fatal(err)
	}
	rec.Read(1)
	rec.Invalid(reader.Row{Pos: reader.Position{File: "in.csv", Line: 2}, Err: &reader.FieldError{Field: "seg_id", Value: "x", Err: reader.ErrNotWhole}, Raw: &reader.Fields{UserID: "u"}})
	if _, err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out.Report)
	if err != nil || !strings.Contains(string(b), `"outcome":"invalid"`) {
		t.Errorf("the report holds %q, %v; want the invalid row as JSON", b, err)
	}
	if b, err := os.ReadFile(out.Failed); err != nil || string(b) != "user_id,domain,seg_id,seg_code,member_id,value,expiration\n" {
		t.Errorf("the failed-rows file holds %q, %v; want its header only", b, err)
	}

	_, err = Outputs{Report: filepath.Join(dir, "no", "such", "dir", "r.csv")}.Create("upload", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "--report: ") {
		t.Errorf("Create into a missing directory = %v, want an error naming --report", err)
	}
	_, err = Outputs{Report: filepath.Join(dir, "r.csv"), ReportFormat: "xml"}.Create("upload", nil)
	if err == nil {
		t.Errorf("Create with an unknown format succeeded")
	}
}
