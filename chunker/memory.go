package chunker

import (
	"fmt"
	"math"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/dustin/go-humanize"
)

// A run's heap holds little that lives long besides what grouping holds (the
// rows of unsorted input, or the filter of users already sent), while
// decoding makes much short-lived garbage. So the collector runs less often
// than Go's default, which saves about a tenth of the CPU time, and a soft
// memory limit of HeapBase plus what grouping may hold keeps the price in
// memory bounded: the rest of a run (rows read ahead, requests packed and in
// flight, the recorder's queue) and the garbage between collections live in
// HeapBase. The soft limit counts all the memory the Go runtime maps, but not
// the pages of the program's own file that the system keeps in memory (some
// 30 MiB at rest, 35 to 40 MiB in a run: arrow's Parquet code and the
// object stores' clients included). What a run holds besides grouping is
// some 15 MiB live, so the collector keeps its memory well under the limit
// and its resident memory within grouping plus 64 MiB (TestPeakMemory in
// cmd/rtseg checks it, the program's pages included).
//
// Inside a container whose memory is limited (a cgroup's memory.max, as
// Kubernetes and Docker set it), the soft limit never goes past
// containerShare of that limit, and --group-memory's default shrinks so that
// MemoryBase and grouping fit under it.
//
// GOGC or GOMEMLIMIT in the environment leave the runtime's settings alone.
const (
	gcPercent = 200
	// HeapBase is the soft memory limit besides grouping.
	HeapBase = 32 << 20
	// MemoryBase is the room a container's ceiling keeps for the rest of a
	// run besides grouping.
	MemoryBase     = 48 << 20
	containerShare = 0.8
	// minGroupDefault is the least that --group-memory's default shrinks
	// to in a small container.
	minGroupDefault = 4 << 20
)

// ContainerMemory is the memory limit of the process's container, as
// provider finds it (memlimit.FromCgroup reads the cgroup's, v1 or v2): 0 when
// there is none, it cannot be read, or provider is nil.
func ContainerMemory(provider memlimit.Provider) int64 {
	if provider == nil {
		return 0
	}
	n, err := provider()
	if err != nil || n == 0 || n > math.MaxInt64 {
		return 0
	}
	return int64(n)
}

// memoryCeiling is the most a run's soft memory limit is set to inside a
// container of the given memory limit (0 for none): 0 for no ceiling.
func memoryCeiling(container int64) int64 {
	if container <= 0 {
		return 0
	}
	n, err := memlimit.ApplyRatio(memlimit.Limit(uint64(container)), containerShare)()
	if err != nil {
		return 0
	}
	return int64(n)
}

// GroupMemoryDefault is --group-memory's default: chunker's, or inside a
// container of the given memory limit, what fits beside MemoryBase under
// its ceiling, in whole MiB.
func GroupMemoryDefault(container int64) string {
	size := int64(DefaultGroupMemory)
	if ceiling := memoryCeiling(container); ceiling > 0 {
		size = min(size, max(ceiling-MemoryBase, minGroupDefault))
	}
	return fmt.Sprintf("%dMiB", size>>20)
}

// MemoryBudget sets the soft memory limit as grouping grows; nil leaves the
// runtime alone.
type MemoryBudget struct {
	ceiling int64 // 0 for none
}

// NewMemoryBudget relaxes the collector and returns a budget that sets the
// soft memory limit, within the ceiling of the container of the given
// memory limit (0 for none), unless the environment sets GOGC or
// GOMEMLIMIT (then nil).
func NewMemoryBudget(getenv func(string) string, container int64) *MemoryBudget {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return nil
	}
	debug.SetGCPercent(gcPercent)
	m := &MemoryBudget{ceiling: memoryCeiling(container)}
	m.Grouping(0)
	return m
}

// Grouping makes room for grouping that holds size bytes.
func (m *MemoryBudget) Grouping(size int64) {
	if m == nil {
		return
	}
	limit := HeapBase + size
	if m.ceiling > 0 {
		limit = min(limit, m.ceiling)
	}
	debug.SetMemoryLimit(limit)
}

// GroupMemoryWarning says, if it is so, that --group-memory (group bytes)
// leaves too little room for the rest of a run in a container of the given
// memory limit: "" if it fits.
func GroupMemoryWarning(group, container int64) string {
	ceiling := memoryCeiling(container)
	switch {
	case ceiling <= 0 || MemoryBase+group <= ceiling:
		return ""
	case MemoryBase+minGroupDefault > ceiling:
		return fmt.Sprintf("the container's memory limit of %s is less than a run needs (about 64MiB besides --group-memory): it may be killed for want of memory",
			humanize.IBytes(uint64(container)))
	}
	return fmt.Sprintf("--group-memory %s leaves too little of the container's memory limit of %s for the rest of the run (about 64MiB): it may be killed for want of memory; give at most %s",
		humanize.IBytes(uint64(group)), humanize.IBytes(uint64(container)), GroupMemoryDefault(container))
}
