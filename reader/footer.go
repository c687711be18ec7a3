package reader

import (
	"context"
	"encoding/binary"
	"io"

	"github.com/apache/thrift/lib/go/thrift"
)

// Snowflake, optimizing physical types, unloads NUMBER(38,0) as INT64
// annotated DECIMAL(38,0), which Parquet's rules do not allow (INT64 holds
// a precision of 18 at most, INT32 of 9) and arrow v15 refuses: it cannot
// even read the footer. Its values are plain int64 whatever the precision
// says, so such a file is read with the precision in its footer lowered
// to what the physical type holds: the footer's bytes are patched as
// arrow reads them, in place, since the precision is one byte either way.

// Parquet's thrift field IDs and enum values that rewriteDecimalPrecision
// needs (parquet.thrift).
const (
	thriftSchema        = 2  // FileMetaData.schema
	thriftType          = 1  // SchemaElement.type
	thriftPrecision     = 8  // SchemaElement.precision
	thriftLogicalType   = 10 // SchemaElement.logicalType
	thriftDecimal       = 5  // LogicalType.DECIMAL
	thriftDecimalPrec   = 2  // DecimalType.precision
	thriftPhysicalInt32 = 1
	thriftPhysicalInt64 = 2
)

// rewriteDecimalPrecision walks a Parquet footer (thrift compact
// FileMetaData) and sets the precision of each schema element, both the
// converted type's and the DECIMAL logical type's, to what precision
// returns for its physical type (a Type enum value) and precision, in
// place. It changes only precisions written in one byte to values written
// in one byte (0 to 63), and returns how many it changed.
func rewriteDecimalPrecision(footer []byte, precision func(physical, precision int32) int32) (int, error) {
	buf := thrift.NewTMemoryBufferLen(len(footer))
	buf.Write(footer)
	prot := thrift.NewTCompactProtocolConf(buf, &thrift.TConfiguration{})
	ctx := context.Background()
	pos := func() int { return len(footer) - buf.Len() }

	// readPrecision reads an i32 and remembers where it was written.
	type at struct {
		off, n int
		v      int32
	}
	var precs []at
	readPrecision := func() error {
		off := pos()
		v, err := prot.ReadI32(ctx)
		if err != nil {
			return err
		}
		precs = append(precs, at{off, pos() - off, v})
		return nil
	}
	// fields reads a struct's fields, handing each to read, which
	// reports whether it read it; the others are skipped.
	var fields func(read func(id int16, typ thrift.TType) (bool, error)) error
	fields = func(read func(id int16, typ thrift.TType) (bool, error)) error {
		if _, err := prot.ReadStructBegin(ctx); err != nil {
			return err
		}
		for {
			_, typ, id, err := prot.ReadFieldBegin(ctx)
			if err != nil {
				return err
			}
			if typ == thrift.STOP {
				return prot.ReadStructEnd(ctx)
			}
			done, err := read(id, typ)
			if err != nil {
				return err
			}
			if !done {
				if err := thrift.SkipDefaultDepth(ctx, prot, typ); err != nil {
					return err
				}
			}
			if err := prot.ReadFieldEnd(ctx); err != nil {
				return err
			}
		}
	}
	element := func() (int32, error) {
		physical := int32(-1)
		precs = precs[:0]
		err := fields(func(id int16, typ thrift.TType) (bool, error) {
			switch {
			case id == thriftType && typ == thrift.I32:
				v, err := prot.ReadI32(ctx)
				physical = v
				return true, err
			case id == thriftPrecision && typ == thrift.I32:
				return true, readPrecision()
			case id == thriftLogicalType && typ == thrift.STRUCT:
				return true, fields(func(id int16, typ thrift.TType) (bool, error) {
					if id != thriftDecimal || typ != thrift.STRUCT {
						return false, nil
					}
					return true, fields(func(id int16, typ thrift.TType) (bool, error) {
						if id != thriftDecimalPrec || typ != thrift.I32 {
							return false, nil
						}
						return true, readPrecision()
					})
				})
			}
			return false, nil
		})
		return physical, err
	}

	changed := 0
	err := fields(func(id int16, typ thrift.TType) (bool, error) {
		if id != thriftSchema || typ != thrift.LIST {
			return false, nil
		}
		_, size, err := prot.ReadListBegin(ctx)
		if err != nil {
			return true, err
		}
		for range size {
			physical, err := element()
			if err != nil {
				return true, err
			}
			for _, p := range precs {
				want := precision(physical, p.v)
				if want == p.v || p.n != 1 || want < 0 || want > 63 {
					continue
				}
				footer[p.off] = byte(want << 1) // zigzag, one byte
				changed++
			}
		}
		return true, prot.ReadListEnd(ctx)
	})
	return changed, err
}

// maxIntPrecision lowers the precision of a DECIMAL stored in INT32 or
// INT64 to what the type holds, 9 or 18 digits.
func maxIntPrecision(physical, precision int32) int32 {
	switch {
	case physical == thriftPhysicalInt32 && precision > 9:
		return 9
	case physical == thriftPhysicalInt64 && precision > 18:
		return 18
	}
	return precision
}

// footerFix returns the file r of size bytes as arrow can read it when its
// footer gives an integer DECIMAL a precision its type cannot hold: with
// the footer patched (see maxIntPrecision). ok is false when the footer
// needs no patch or cannot be read.
func footerFix(r io.ReaderAt, size int64) (fixed io.ReaderAt, ok bool) {
	if size < 12 {
		return nil, false
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil || string(tail[4:]) != string(parquetMagic) {
		return nil, false
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n <= 0 || n > size-12 || n > maxFooterBytes {
		return nil, false
	}
	footer := make([]byte, n)
	if _, err := r.ReadAt(footer, size-8-n); err != nil {
		return nil, false
	}
	if changed, err := rewriteDecimalPrecision(footer, maxIntPrecision); err != nil || changed == 0 {
		return nil, false
	}
	return &overlay{r: r, off: size - 8 - n, data: footer}, true
}

// maxFooterBytes bounds the footer footerFix reads into memory.
const maxFooterBytes = 64 << 20

// overlay reads r with data in place of its bytes from off.
type overlay struct {
	r    io.ReaderAt
	off  int64
	data []byte
}

func (o *overlay) ReadAt(p []byte, off int64) (int, error) {
	n, err := o.r.ReadAt(p, off)
	// The part of p that data covers: [max(off, o.off), min(off+n, o.off+len(data))).
	lo, hi := max(off, o.off), min(off+int64(n), o.off+int64(len(o.data)))
	if lo < hi {
		copy(p[lo-off:hi-off], o.data[lo-o.off:hi-o.off])
	}
	return n, err
}
