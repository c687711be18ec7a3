package reader

import (
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/decimal128"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/rtseg/rtseg/reader/internal/fixture"
)

// TestParquetNumbers checks that a float or DECIMAL that is not whole, or
// does not fit its field, is an invalid row saying so, and that the rows
// after it are read: never the end of the run.
func TestParquetNumbers(t *testing.T) {
	mem := memory.DefaultAllocator
	floats := []float64{12, 12.5, math.NaN(), math.Inf(1), math.Inf(-1), 1e30, -0.0, 3, 0.1, 7}
	huge, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	decimals := []decimal128.Num{ // DECIMAL(38,2)
		decimal128.FromI64(1200), decimal128.FromI64(1250), decimal128.FromI64(-100), decimal128.FromBigInt(huge),
		decimal128.FromI64(5), decimal128.FromI64(1440_00), decimal128.FromI64(0), decimal128.FromI64(100), decimal128.FromI64(100), decimal128.FromI64(300)}
	uid := array.NewStringBuilder(mem)
	seg := array.NewFloat64Builder(mem)
	exp := array.NewDecimal128Builder(mem, &arrow.Decimal128Type{Precision: 38, Scale: 2})
	val := array.NewUint64Builder(mem)
	one := array.NewInt64Builder(mem)
	for i := range floats {
		one.Append(1)
		uid.Append("1001")
		seg.Append(floats[i])
		exp.Append(decimals[i])
		if i == 8 {
			val.Append(math.MaxUint64)
		} else {
			val.AppendNull()
		}
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.BinaryTypes.String},
		{Name: "seg_id", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "expiration", Type: &arrow.Decimal128Type{Precision: 38, Scale: 2}, Nullable: true},
		{Name: "value", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "segment", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	rec := array.NewRecord(schema, []arrow.Array{uid.NewArray(), seg.NewArray(), exp.NewArray(), val.NewArray(), one.NewArray()}, int64(len(floats)))
	path := writeArrow(t, filepath.Join(t.TempDir(), "numbers.parquet"), rec)

	rows := mustRead(t, []string{path}, Options{})
	type got struct {
		Line          int64
		SegID         int64
		Expiration    int32
		HasExpiration bool
		Reason        string
	}
	var gots []got
	for _, r := range rows {
		g := got{Line: r.Pos.Line, SegID: r.SegID, Expiration: r.Expiration, HasExpiration: r.HasExpiration}
		if r.Err != nil {
			g.Reason = r.Err.Error()
		}
		gots = append(gots, g)
	}
	want := []got{
		{Line: 1, SegID: 12, Expiration: 12, HasExpiration: true},
		{Line: 2, Reason: `seg_id "12.5" is not a whole number`},
		{Line: 3, Reason: `seg_id "NaN" is not a whole number`},
		{Line: 4, Reason: `seg_id "+Inf" is not a whole number`},
		{Line: 5, Reason: `seg_id "-Inf" is not a whole number`},
		{Line: 6, Reason: `seg_id 1e+30 is out of range (it must be 1 to 9223372036854775807)`},
		{Line: 7, Reason: `seg_id 0 is out of range (it must be 1 to 9223372036854775807)`},
		{Line: 8, SegID: 3, Expiration: 1, HasExpiration: true},
		{Line: 9, Reason: `seg_id "0.1" is not a whole number`},
		{Line: 10, SegID: 7, Expiration: 3, HasExpiration: true},
	}
	if !reflect.DeepEqual(gots, want) {
		t.Errorf("rows:\n got %+v\nwant %+v", gots, want)
	}

	// The decimals, and the uint64, with seg_id out of the way.
	rows = mustRead(t, []string{path}, Options{Columns: map[string]string{"seg_id": "segment"}})
	reasons := map[int64]string{}
	for _, r := range rows {
		if r.Err != nil {
			reasons[r.Pos.Line] = r.Err.Error()
		}
	}
	wantReasons := map[int64]string{
		2: `expiration "12.50" is not a whole number`,
		4: `expiration "1234567890123456789012345678.90" is not a whole number`,
		5: `expiration "0.05" is not a whole number`,
		9: `value 18446744073709551615 is out of range (it must fit in 32 bits: -2147483648 to 2147483647)`,
	}
	if !reflect.DeepEqual(reasons, wantReasons) {
		t.Errorf("reasons %v, want %v", reasons, wantReasons)
	}
}

// TestDecimalCells checks the DECIMAL conversions at their edges.
func TestDecimalCells(t *testing.T) {
	tests := []struct {
		name  string
		bytes []byte
		scale int32
		want  cell
	}{
		{name: "one byte negative", bytes: []byte{0xff}, want: cell{num: -1, isNum: true}},
		{name: "16 bytes, int64 max", bytes: append(make([]byte, 8), 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), want: cell{num: math.MaxInt64, isNum: true}},
		{name: "16 bytes, int64 min", bytes: append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0x80, 0, 0, 0, 0, 0, 0, 0), want: cell{num: math.MinInt64, isNum: true}},
		{name: "16 bytes, int64 max + 1", bytes: append(make([]byte, 8), 0x80, 0, 0, 0, 0, 0, 0, 0), want: cell{text: "9223372036854775808", err: ErrOutOfRange}},
		{name: "9 bytes, -2^64 / 100 whole at scale 2", bytes: []byte{0xff, 0, 0, 0, 0, 0, 0, 0, 0}, scale: 2, want: cell{text: "-184467440737095516.16", err: ErrNotWhole}},
		{name: "scale 2, whole", bytes: []byte{0x04, 0xb0}, scale: 2, want: cell{num: 12, isNum: true}},
		{name: "scale 20, zero", bytes: []byte{0}, scale: 20, want: cell{num: 0, isNum: true}},
		{name: "scale 20, not zero", bytes: []byte{1}, scale: 20, want: cell{text: "0.00000000000000000001", err: ErrNotWhole}},
		{name: "no bytes", bytes: nil, want: cell{text: "(no bytes)", err: ErrNotWhole}},
	}
	for _, tt := range tests {
		if got := decimalBytesCell(tt.bytes, tt.scale); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: decimalBytesCell(%x, %d) = %+v, want %+v", tt.name, tt.bytes, tt.scale, got, tt.want)
		}
	}
}

// TestParquetZeroRows checks that a Parquet file without rows reads as no
// rows, as does a folder holding it beside another file.
func TestParquetZeroRows(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "part-0.parquet")
	os.WriteFile(empty, parquetBytes(t, nil, fixture.Parquet{Columns: typedColumns(fixture.Decimal, fixture.Int64, fixture.Float64, fixture.Int32)}), 0o644)
	if rows := mustRead(t, []string{empty}, Options{}); len(rows) != 0 {
		t.Errorf("%d rows from an empty file, want none", len(rows))
	}
	os.WriteFile(filepath.Join(dir, "part-1.parquet"), parquetBytes(t, someRecords, fixture.Parquet{}), 0o644)
	if rows := mustRead(t, []string{dir}, Options{}); len(rows) != len(someRecords) || rows[0].Pos.Line != 1 {
		t.Errorf("folder with an empty file: %d rows, want %d from row 1", len(rows), len(someRecords))
	}
}

// FuzzNumberText checks the CSV reading of a number field against
// math/big: a base-10 whole number, with or without a fraction of zeros,
// is its value if in range; anything else is an invalid row saying why.
func FuzzNumberText(f *testing.F) {
	for _, s := range []string{"1440", "1440.0", "12.00", "12.5", "1e3", "-1.0", "+7", "0100", ".0", "1.", "99999999999999999999.0", "-2147483648", "NaN", "0x10", "1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		row := Validate(Position{File: "f.csv", Line: 2}, Fields{UserID: "1", SegID: "1", Value: s}, Defaults{})
		text := strings.TrimSpace(s)
		if text == "" {
			if !row.Valid() || row.HasValue {
				t.Fatalf("value %q: row %+v, want a valid row without a value", s, row)
			}
			return
		}
		whole, frac, _ := strings.Cut(text, ".")
		ok := isInteger(whole) && (!strings.Contains(text, ".") || frac != "" && strings.Trim(frac, "0") == "")
		var want *big.Int
		if ok {
			want, ok = new(big.Int).SetString(strings.TrimPrefix(whole, "+"), 10)
		}
		switch {
		case !ok:
			if !errors.Is(row.Err, ErrNotWhole) {
				t.Fatalf("value %q: %v, want not a whole number", s, row.Err)
			}
		case want.IsInt64() && want.Int64() >= math.MinInt32 && want.Int64() <= math.MaxInt32:
			if !row.Valid() || !row.HasValue || int64(row.Value) != want.Int64() {
				t.Fatalf("value %q: row %+v, want value %s", s, row, want)
			}
		default:
			if !errors.Is(row.Err, ErrOutOfRange) {
				t.Fatalf("value %q: %v, want out of range", s, row.Err)
			}
		}
	})
}

// FuzzDecimalBytes checks the reading of a DECIMAL stored as bytes (big-
// endian two's complement) at a scale against math/big: a whole value
// that fits int64 is that number; a fraction is not whole; a whole value
// past int64 is out of range; the text shown is the value at its scale.
func FuzzDecimalBytes(f *testing.F) {
	f.Add([]byte{0x04, 0xb0}, uint8(2))
	f.Add([]byte{0xff}, uint8(0))
	f.Add(append(make([]byte, 8), 0x80, 0, 0, 0, 0, 0, 0, 0), uint8(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, uint8(0))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, uint8(38))
	f.Fuzz(func(t *testing.T, b []byte, scale uint8) {
		if len(b) == 0 || len(b) > 32 {
			return
		}
		sc := int32(scale % 40)
		v := new(big.Int).SetBytes(b)
		if b[0]&0x80 != 0 {
			v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		q, r := new(big.Int).QuoRem(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(sc)), nil), new(big.Int))
		got := decimalBytesCell(b, sc)
		switch {
		case r.Sign() != 0:
			if got.err != ErrNotWhole {
				t.Fatalf("%x at scale %d (%s): %+v, want not whole", b, sc, v, got)
			}
		case q.IsInt64():
			if !got.isNum || got.num != q.Int64() || got.err != nil {
				t.Fatalf("%x at scale %d (%s): %+v, want %s", b, sc, v, got, q)
			}
			return
		default:
			if got.err != ErrOutOfRange {
				t.Fatalf("%x at scale %d (%s): %+v, want out of range", b, sc, v, got)
			}
		}
		// The text is the value at its scale: the digits of v with a
		// point scale digits from the end.
		digits := strings.Replace(strings.TrimPrefix(got.text, "-"), ".", "", 1)
		back, ok := new(big.Int).SetString(digits, 10)
		if !ok || strings.HasPrefix(got.text, "-") != (v.Sign() < 0) || back.Cmp(new(big.Int).Abs(v)) != 0 ||
			(sc > 0 && len(got.text)-strings.IndexByte(got.text, '.')-1 != int(sc)) {
			t.Fatalf("%x at scale %d (%s): text %q", b, sc, v, got.text)
		}
	})
}
