package chunker

import (
	"runtime/debug"
	"testing"
)

// TestMemoryBudget checks that a run relaxes the collector and bounds the
// heap by what grouping holds, and that GOGC or GOMEMLIMIT in the
// environment leave the runtime's settings alone.
func TestMemoryBudget(t *testing.T) {
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	defer debug.SetGCPercent(percent)
	defer debug.SetMemoryLimit(limit)
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(1 << 40)
		set := func(k string) string {
			if k == name {
				return "100"
			}
			return ""
		}
		if b := NewMemoryBudget(set, 128<<20); b != nil {
			t.Errorf("with %s set: a memory budget, want none", name)
		}
		b := (*MemoryBudget)(nil)
		b.Grouping(1 << 20)
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("with %s set: GC percent %d, want 100 as it was", name, got)
		}
		if got := debug.SetMemoryLimit(-1); got != 1<<40 {
			t.Errorf("with %s set: memory limit %d, want %d as it was", name, got, int64(1<<40))
		}
	}

	b := NewMemoryBudget(func(string) string { return "" }, 0)
	if b == nil {
		t.Fatal("no memory budget without GOGC or GOMEMLIMIT")
	}
	if got := debug.SetGCPercent(gcPercent); got != gcPercent {
		t.Errorf("GC percent %d, want %d", got, gcPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != HeapBase {
		t.Errorf("memory limit %d, want %d", got, HeapBase)
	}
	b.Grouping(64 << 20)
	if got, want := debug.SetMemoryLimit(-1), int64(HeapBase+64<<20); got != want {
		t.Errorf("memory limit with 64 MiB of grouping %d, want %d", got, want)
	}
}
