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

// A report is written beside its path and put in place only once complete:
// until then, and if the run dies, the report of an earlier run stays whole.
func TestOutputsReplaceOnlyWhenComplete(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.csv")
	if err := os.WriteFile(path, []byte("an earlier run's report\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec, err := Outputs{Report: path, ReportFormat: "csv"}.Create("upload", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		rec.Read(1)
		rec.Invalid(reader.Row{Pos: reader.Position{File: "in.csv", Line: int64(i + 2)}, Err: &reader.FieldError{Field: "seg_id", Value: "x", Err: reader.ErrNotWhole}, Raw: &reader.Fields{UserID: "u"}})
	}
	if b, _ := os.ReadFile(path); string(b) != "an earlier run's report\n" {
		t.Errorf("while the run goes on, %s holds %d bytes of something else; want the earlier report", path, len(b))
	}
	if _, err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || strings.Count(string(b), ",invalid,") != 5000 {
		t.Errorf("after Close, the report holds %d invalid rows (%v), want 5000", strings.Count(string(b), ",invalid,"), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d files after Close, want only the report", len(entries))
	}
}

func TestOutputsCheck(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("in.csv", []byte("user_id,seg_id\n1,2\n"), 0o644)
	os.Mkdir("ind", 0o755)
	for _, c := range []struct {
		out    Outputs
		inputs []string
		want   string // "" for no error
	}{
		{Outputs{Report: "r.csv", Failed: "f.csv", Summary: "s.json"}, []string{"in.csv", "-"}, ""},
		{Outputs{Report: "in.csv"}, []string{"in.csv"}, "--report in.csv is the INPUT in.csv: "},
		{Outputs{Summary: "./in.csv"}, []string{dir + "/in.csv"}, "--summary ./in.csv is the INPUT " + dir + "/in.csv: "},
		{Outputs{Report: "ind/sub/r.csv"}, []string{"in.csv"}, "--report ind/sub/r.csv: cannot create a file in ind/sub: "},
		{Outputs{Report: "ind/r.csv"}, []string{"ind"}, "--report ind/r.csv lies inside the INPUT directory ind, "},
		{Outputs{Report: "r.csv"}, []string{"*.csv"}, "--report r.csv matches the INPUT *.csv: "},
		{Outputs{Report: "a", Summary: "a"}, []string{"in.csv"}, "--report a and --summary a are the same file"},
		{Outputs{Report: "req/r.csv", RequestsDir: "req"}, []string{"in.csv"}, "--report req/r.csv lies inside --requests-dir req"},
		{Outputs{RequestsDir: "."}, []string{"in.csv"}, "--requests-dir . holds the INPUT in.csv: "},
		{Outputs{Metrics: "m.prom", Report: "r.csv"}, []string{"in.csv"}, ""},
		{Outputs{Metrics: "in.csv"}, []string{"in.csv"}, "--metrics-file in.csv is the INPUT in.csv: "},
		{Outputs{Summary: "m.prom", Metrics: "m.prom"}, []string{"in.csv"}, "--summary m.prom and --metrics-file m.prom are the same file"},
		{Outputs{Metrics: "ind/sub/m.prom"}, []string{"in.csv"}, "--metrics-file ind/sub/m.prom: cannot create a file in ind/sub: "},
		{Outputs{Summary: "s.json", HTML: "run.html"}, []string{"in.csv"}, ""},
		{Outputs{HTML: "in.csv"}, []string{"in.csv"}, "--html in.csv is the INPUT in.csv: "},
		{Outputs{HTML: "ind/run.html"}, []string{"ind"}, "--html ind/run.html lies inside the INPUT directory ind, "},
		{Outputs{HTML: "run.csv"}, []string{"*.csv"}, "--html run.csv matches the INPUT *.csv: "},
		{Outputs{Summary: "run.html", HTML: "./run.html"}, []string{"in.csv"}, "--summary run.html and --html ./run.html are the same file"},
		{Outputs{HTML: "ind/sub/run.html"}, []string{"in.csv"}, "--html ind/sub/run.html: cannot create a file in ind/sub: "},
		{Outputs{HTML: "ind"}, []string{"in.csv"}, "--html ind: is a directory"},
		{Outputs{HTML: "req/run.html", RequestsDir: "req"}, []string{"in.csv"}, "--html req/run.html lies inside --requests-dir req"},
	} {
		err := c.out.Check(c.inputs)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v.Check(%q) = %v, want nil", c.out, c.inputs, err)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("%+v.Check(%q) = %v, want %q...", c.out, c.inputs, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("Check left %d entries in the directory, want the 2 it found", len(entries))
	}
}
