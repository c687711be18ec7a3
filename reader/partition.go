package reader

import (
	"net/url"
	"strings"
)

// hiveNull is the value Hive and Spark give a partition whose value is
// null.
const hiveNull = "__HIVE_DEFAULT_PARTITION__"

// partition is a folder named key=value above an input file (a Hive
// partition, as Spark, Hive, DuckDB and BigQuery write them): it gives the
// column key the value to the file's rows that lack it or leave it empty.
// value is URL-unescaped, and "" for null.
type partition struct {
	key, value string
}

// partitionsIn returns the partitions a folder's path, in slash form,
// names, outermost first. A segment without "=", or with nothing before
// it, is not a partition.
func partitionsIn(dir string) []partition {
	var parts []partition
	for seg := range strings.SplitSeq(dir, "/") {
		key, value, ok := strings.Cut(seg, "=")
		if !ok || key == "" {
			continue
		}
		if k, err := url.PathUnescape(key); err == nil {
			key = k
		}
		if v, err := url.PathUnescape(value); err == nil {
			value = v // else, as Hive does, keep an escape it cannot read
		}
		if value == hiveNull {
			value = ""
		}
		parts = append(parts, partition{key: key, value: value})
	}
	return parts
}
