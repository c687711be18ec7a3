package chunker

import "github.com/rtseg/rtseg/reader"

// seen is a Bloom filter of users: testAndAdd never answers false for a user
// added before, and rarely true for one that was not.
//
// It grows in layers, each twice the size of the one before, so that a small
// input costs little memory and a large one keeps few false positives, up to
// a bound in bytes; past it the last layer fills up and false positives grow.
type seen struct {
	layers []layer
	left   int64 // bytes the filter may still take
	size   int64 // bytes the filter takes
	// grown, if not nil, is told the filter's size each time it grows.
	grown func(size int64)
}

type layer struct {
	bits     []uint64
	mask     uint64 // bit count - 1: the count is a power of two
	n, limit int    // users added, and how many the layer is sized for
}

const (
	firstLayerBytes = 1 << 20
	// bitsPerUser and probes keep false positives near 4 in 100,000 users
	// while a layer is within its limit.
	bitsPerUser = 24
	probes      = 8
)

func newSeen(memory int64) *seen { return &seen{left: memory} }

// testAndAdd reports whether u may have been added before, and adds it.
func (s *seen) testAndAdd(u reader.User) bool {
	h1, h2 := hashUser(u)
	for i := range s.layers {
		if s.layers[i].has(h1, h2) {
			return true
		}
	}
	if n := len(s.layers); n == 0 || s.layers[n-1].n >= s.layers[n-1].limit {
		s.grow()
	}
	s.layers[len(s.layers)-1].add(h1, h2)
	return false
}

// grow adds a layer twice the size of the last, if the bound allows. The
// first layer is always made, smaller if the bound is small.
func (s *seen) grow() {
	var size int64
	if n := len(s.layers); n == 0 {
		size = firstLayerBytes
		for size > s.left && size > 64 {
			size /= 2
		}
	} else if size = int64(len(s.layers[n-1].bits)) * 8 * 2; size > s.left {
		return // the bound is reached: the last layer takes the rest
	}
	s.left -= size
	s.size += size
	if s.grown != nil {
		s.grown(s.size)
	}
	bits := uint64(size) * 8
	s.layers = append(s.layers, layer{
		bits:  make([]uint64, size/8),
		mask:  bits - 1,
		limit: int(bits / bitsPerUser),
	})
}

func (l *layer) has(h1, h2 uint64) bool {
	for i := range uint64(probes) {
		b := (h1 + i*h2) & l.mask
		if l.bits[b>>6]&(1<<(b&63)) == 0 {
			return false
		}
	}
	return true
}

func (l *layer) add(h1, h2 uint64) {
	for i := range uint64(probes) {
		b := (h1 + i*h2) & l.mask
		l.bits[b>>6] |= 1 << (b & 63)
	}
	l.n++
}

// hashUser hashes a user with FNV-1a and derives the two hashes of double
// hashing with the SplitMix64 finalizer. It is fixed, not seeded, so that
// the requests marked Ordered are the same from run to run.
func hashUser(u reader.User) (h1, h2 uint64) {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(u.Domain); i++ {
		h = (h ^ uint64(u.Domain[i])) * prime
	}
	h = (h ^ 0xff) * prime // no byte of a valid domain: "ab"+"c" differs from "a"+"bc"
	for i := 0; i < len(u.ID); i++ {
		h = (h ^ uint64(u.ID[i])) * prime
	}
	return mix(h), mix(h^0x9e3779b97f4a7c15) | 1
}

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
