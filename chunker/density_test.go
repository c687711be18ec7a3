package chunker

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rtseg/rtseg/reader"
)

// codeRows makes rows of device users (UUIDs with a domain) with from lo
// to hi segments each, named by code: entries of several kilobytes, so
// that bytes, not users, bound the requests.
func codeRows(rng *rand.Rand, n, lo, hi int) []reader.Row {
	rows := make([]reader.Row, 0, n)
	for len(rows) < n {
		id := fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint64()&0xffffffffffff)
		k := lo + rng.IntN(hi-lo+1)
		for s := range k {
			rows = append(rows, reader.Row{
				UserID: id, Domain: "aaid", SegCode: fmt.Sprintf("interest-%d", s), MemberID: 1234,
				Value: int32(rng.IntN(100)), HasValue: true, Expiration: 43200, HasExpiration: true,
			})
			if len(rows) == n {
				break
			}
		}
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	numberLines(rows)
	return rows
}

// Acceptance: each user is sent once per 100 segments, and the requests are
// within 2% of max(users/1000, bytes/1,000,000) under the service's limits.
func TestPackDensity(t *testing.T) {
	rng := newRand(31)
	for _, tc := range []struct {
		name string
		rows []reader.Row
	}{
		{"1 to 10 segments per user", realistic(rng, 150_000, 10)},
		{"1 to 250 segments per user", realistic(rng, 150_000, 250)},
		{"30 to 100 long segments per user", codeRows(rng, 100_000, 30, 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			segs := map[reader.User]map[reader.Segment]bool{}
			for _, r := range tc.rows {
				if segs[r.User()] == nil {
					segs[r.User()] = map[reader.Segment]bool{}
				}
				segs[r.User()][r.Segment()] = true
			}
			lower := 0
			for _, s := range segs {
				lower += (len(s) + 99) / 100
			}
			out := packGrouped(t, tc.rows, DefaultLimits, GroupConfig{Memory: 4 << 20, TmpDir: t.TempDir()})
			users, bytes, reqs := out.users(), out.bytes(), len(out.reqs)
			if users != lower {
				t.Errorf("%d users sent, want the lower bound %d", users, lower)
			}
			bound := max(float64(users)/1000, float64(bytes)/1e6)
			if limit := math.Ceil(bound * 1.02); float64(reqs) > limit {
				t.Errorf("%d requests, more than 2%% over max(users/1000, bytes/1e6) = %.2f", reqs, bound)
			}
			t.Logf("%d rows, %d users: %d entries sent (lower bound %d), %d requests for max(%.2f, %.2f) = %.2f (+%.2f%%), %d spills",
				len(tc.rows), len(segs), users, lower, reqs, float64(users)/1000, float64(bytes)/1e6, bound, 100*(float64(reqs)/bound-1), out.spills)
		})
	}
}
