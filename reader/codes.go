package reader

// Codes keeps one string for each segment code met, so that the rows that
// name a code share it rather than each holding a copy of its bytes. It
// keeps at most MaxSharedCodes; past them a code is copied for each row.
// The zero value is ready to use.
type Codes struct {
	shared map[string]string
}

// MaxSharedCodes bounds the codes a Codes keeps one copy of.
const MaxSharedCodes = 4096

// Shared returns the code b as a string shared with the rows before that
// named it.
func (c *Codes) Shared(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := c.shared[string(b)]; ok {
		return s
	}
	s := string(b)
	if c.shared == nil {
		c.shared = map[string]string{}
	}
	if len(c.shared) < MaxSharedCodes {
		c.shared[s] = s
	}
	return s
}
