package report_test

import (
	"fmt"
	"os"

	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/report"
)

func ExampleRecorder() {
	w, _ := report.NewWriter(os.Stdout, "csv")
	rec := report.NewRecorder(report.RecorderConfig{Command: "validate", Report: w})
	rec.Read(1)
	rec.Invalid(reader.Validate(reader.Position{File: "users.csv", Line: 2},
		reader.Fields{UserID: "42", SegID: "abc"}, reader.Defaults{}))
	sum, _ := rec.Close()
	fmt.Println(sum.RowsRead, sum.Invalid, sum.Reconciles())
	// Output:
	// file,line,user_id,domain,seg_id,seg_code,member_id,value,expiration,outcome,reason,attempts
	// users.csv,2,42,,abc,,,,,invalid,"seg_id ""abc"" is not a whole number",0
	// 1 1 true
}
