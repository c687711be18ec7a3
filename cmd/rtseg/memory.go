package main

import "runtime/debug"

// A run's heap holds little that lives long besides what grouping holds (the
// rows of unsorted input, or the filter of users already sent), while
// decoding makes much short-lived garbage. So the collector runs less often
// than Go's default, which saves about a tenth of the CPU time, and a soft
// memory limit of memoryBase plus what grouping may hold keeps the price in
// memory bounded. GOGC or GOMEMLIMIT in the environment leave the runtime's
// settings alone.
const (
	gcPercent  = 200
	memoryBase = 96 << 20
)

// memoryBudget sets the soft memory limit as grouping grows; nil leaves the
// runtime alone.
type memoryBudget struct{}

// newMemoryBudget relaxes the collector and returns a budget, unless the
// environment sets GOGC or GOMEMLIMIT.
func newMemoryBudget(getenv func(string) string) *memoryBudget {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return nil
	}
	debug.SetGCPercent(gcPercent)
	debug.SetMemoryLimit(memoryBase)
	return &memoryBudget{}
}

// grouping makes room for grouping that holds size bytes.
func (m *memoryBudget) grouping(size int64) {
	if m != nil {
		debug.SetMemoryLimit(memoryBase + size)
	}
}
