package chunker

import (
	"testing"

	"github.com/rtseg/rtseg/reader"
)

// discard is an Output that drops what it gets.
type discard struct{}

func (discard) Request(*Request) error                       { return nil }
func (discard) Superseded(reader.Row, reader.Position) error { return nil }

// BenchmarkPack measures rows packed per second: sorted input streamed by
// Adjacent, and shuffled input grouped in memory and with spills to disk.
func BenchmarkPack(b *testing.B) {
	const n = 200_000
	shuffled := realistic(newRand(41), n, 10)
	sorted := sortedByUser(shuffled)
	for _, bc := range []struct {
		name  string
		rows  []reader.Row
		group func(*Packer) interface {
			Add(reader.Row) error
			Close() error
		}
	}{
		{"sorted", sorted, func(p *Packer) interface {
			Add(reader.Row) error
			Close() error
		} {
			return NewAdjacent(p, 0)
		}},
		{"shuffled-in-memory", shuffled, func(p *Packer) interface {
			Add(reader.Row) error
			Close() error
		} {
			return NewGrouper(p, GroupConfig{Memory: 1 << 30})
		}},
		{"shuffled-spilling", shuffled, func(p *Packer) interface {
			Add(reader.Row) error
			Close() error
		} {
			return NewGrouper(p, GroupConfig{Memory: 1 << 20, TmpDir: b.TempDir()})
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			loops := 0
			for b.Loop() {
				p, _ := NewPacker(DefaultLimits, discard{})
				g := bc.group(p)
				for _, r := range bc.rows {
					if err := g.Add(r); err != nil {
						b.Fatal(err)
					}
				}
				if err := g.Close(); err != nil {
					b.Fatal(err)
				}
				loops++
			}
			b.ReportMetric(float64(n*loops)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
