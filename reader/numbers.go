package reader

import (
	"encoding/binary"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Parquet numbers that are not plain integers become integer cells here:
// DECIMAL (Snowflake and Oracle unload NUMBER that way, in int32, int64,
// fixed-length or variable byte-array storage) and floating point (pandas
// writes an integer column with missing values as float64). A whole value
// that fits int64 is a number, whatever its scale or type; any other is
// its text and the rule it breaks, which the validator reports for the
// field it is in.

// pow10 are the powers of ten an int64 holds.
var pow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// decimalCell is the cell of a DECIMAL whose unscaled value is v: the
// number v / 10^scale when that is whole.
func decimalCell(v int64, scale int32) cell {
	switch {
	case scale == 0:
		return cell{num: v, isNum: true}
	case scale > 0 && int(scale) < len(pow10):
		if v%pow10[scale] == 0 {
			return cell{num: v / pow10[scale], isNum: true}
		}
	case scale > 0 && v == 0:
		return cell{num: 0, isNum: true}
	case scale < 0:
		return bigDecimalCell(big.NewInt(v), scale)
	}
	return cell{text: scaledText(big.NewInt(v), scale), err: ErrNotWhole}
}

// decimalBytesCell is the cell of a DECIMAL stored as bytes: its unscaled
// value in big-endian two's complement, as Parquet stores DECIMAL in
// FIXED_LEN_BYTE_ARRAY and BYTE_ARRAY columns.
func decimalBytesCell(b []byte, scale int32) cell {
	n := len(b)
	switch {
	case n == 0:
		return cell{text: "(no bytes)", err: ErrNotWhole}
	case n <= 8:
		v := int64(int8(b[0])) // sign-extended
		for _, c := range b[1:] {
			v = v<<8 | int64(c)
		}
		return decimalCell(v, scale)
	}
	// Wider: an int64 if the bytes above the last 8 only extend its sign,
	// as they do for every NUMBER(38,0) an ID column holds.
	sign := byte(int8(b[n-8]) >> 7)
	fits := true
	for _, c := range b[:n-8] {
		if c != sign {
			fits = false
			break
		}
	}
	if fits {
		return decimalCell(int64(binary.BigEndian.Uint64(b[n-8:])), scale)
	}
	v := new(big.Int).SetBytes(b)
	if b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	}
	return bigDecimalCell(v, scale)
}

// bigDecimalCell is decimalCell for an unscaled value past int64.
func bigDecimalCell(v *big.Int, scale int32) cell {
	q := new(big.Int).Set(v)
	if scale < 0 {
		q.Mul(q, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-scale)), nil))
	} else if scale > 0 {
		var r big.Int
		q.QuoRem(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil), &r)
		if r.Sign() != 0 {
			return cell{text: scaledText(v, scale), err: ErrNotWhole}
		}
	}
	if q.IsInt64() {
		return cell{num: q.Int64(), isNum: true}
	}
	return cell{text: scaledText(v, scale), err: ErrOutOfRange}
}

// scaledText writes a DECIMAL as its column holds it: the unscaled value
// with scale digits after the point ("12.50" for 1250 at scale 2).
func scaledText(v *big.Int, scale int32) string {
	if scale <= 0 {
		return new(big.Int).Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-scale)), nil)).String()
	}
	digits := new(big.Int).Abs(v).String()
	if pad := int(scale) + 1 - len(digits); pad > 0 {
		digits = strings.Repeat("0", pad) + digits
	}
	sign := ""
	if v.Sign() < 0 {
		sign = "-"
	}
	point := len(digits) - int(scale)
	return sign + digits[:point] + "." + digits[point:]
}

// floatCell is the cell of a floating-point value of bits 32 or 64: the
// number when it is whole and fits int64.
func floatCell(v float64, bits int) cell {
	switch {
	case math.IsNaN(v):
		return cell{text: "NaN", err: ErrNotWhole}
	case math.IsInf(v, 1):
		return cell{text: "+Inf", err: ErrNotWhole}
	case math.IsInf(v, -1):
		return cell{text: "-Inf", err: ErrNotWhole}
	case v != math.Trunc(v):
		return cell{text: floatText(v, bits), err: ErrNotWhole}
	case v >= -(1<<63) && v < 1<<63:
		return cell{num: int64(v), isNum: true}
	}
	return cell{text: floatText(v, bits), err: ErrOutOfRange}
}

// floatText writes a float as shortly as it reads back, in plain digits
// unless they would be very many.
func floatText(v float64, bits int) string {
	if a := math.Abs(v); a >= 1e-4 && a < 1e21 {
		return strconv.FormatFloat(v, 'f', -1, bits)
	}
	return strconv.FormatFloat(v, 'g', -1, bits)
}
