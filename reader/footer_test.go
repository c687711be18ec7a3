package reader

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/rtseg/rtseg/reader/internal/fixture"
)

// FuzzFooter walks arbitrary footers: rewriteDecimalPrecision never
// panics, changes nothing when it says so, and changes only what it
// counts, one byte each.
func FuzzFooter(f *testing.F) {
	for _, cols := range [][]fixture.Column{
		typedColumns(fixture.DecimalInt64, fixture.DecimalInt64, fixture.DecimalInt32, fixture.Decimal),
		fixture.StringColumns(),
	} {
		var b bytes.Buffer
		if err := fixture.WriteParquet(&b, fixture.Of(conformanceRecords[:3]), fixture.Parquet{Columns: cols}); err != nil {
			f.Fatal(err)
		}
		data := b.Bytes()
		n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
		f.Add(data[len(data)-8-n : len(data)-8])
	}
	f.Fuzz(func(t *testing.T, footer []byte) {
		orig := bytes.Clone(footer)
		changed, _ := rewriteDecimalPrecision(footer, func(physical, precision int32) int32 { return precision + 1 })
		diff := 0
		for i := range footer {
			if footer[i] != orig[i] {
				diff++
			}
		}
		if diff != changed {
			t.Fatalf("%d bytes changed, %d precisions said to be", diff, changed)
		}
	})
}
