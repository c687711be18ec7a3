package chunker

// Phase is what intake is doing, for progress to name.
type Phase int32

const (
	// Reading is input grouped by user (--sorted) being read: its
	// requests go out as it is read.
	Reading Phase = iota + 1
	// Grouping is unsorted input being read into groups held in memory:
	// nothing goes out until every row is read.
	Grouping
	// Spilling is unsorted input still being read, with groups past the
	// memory budget written to temporary files.
	Spilling
	// Packing is after the last row was read: what grouping holds is
	// packed (spilled groups merged back) and handed on.
	Packing
	// Packed is after every request was handed on: only their answers
	// are still to come.
	Packed
)

var phaseNames = [...]string{"starting", "reading", "grouping", "spilling", "packing", "packed"}

// String gives the phase's name: "reading", "grouping", "spilling",
// "packing" or "packed" ("starting" before the first).
func (p Phase) String() string {
	if p < 0 || int(p) >= len(phaseNames) {
		return "unknown"
	}
	return phaseNames[p]
}

// Read reports whether every row of the input was read by this phase, so
// that the number of rows read is the input's total.
func (p Phase) Read() bool { return p >= Packing }
