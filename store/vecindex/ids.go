package vecindex

import "hash/maphash"

// Facial IDs are UUIDs: a slot keeps its ID as the UUID's 16 bytes, and the
// open-addressing table below maps an ID to its slot without a string or a
// map entry per face. An ID that is not a UUID in canonical form (lower-case,
// 8-4-4-4-12) is kept as a string beside the slots, so that every ID comes
// back exactly as it was given.

// uuidKey is a UUID's 16 bytes.
type uuidKey [16]byte

// minTable is the smallest table (slots of the open-addressing table).
const minTable = 16

// parseUUID returns the bytes of a canonical lower-case UUID.
func parseUUID(s string) (k uuidKey, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return k, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return k, false
		}
		k[j] = hi<<4 | lo
		j++
		i += 2
	}
	return k, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// String returns the canonical form of the UUID.
func (k *uuidKey) String() string {
	const digits = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, x := range k {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = digits[x>>4], digits[x&15]
		j += 2
	}
	return string(b[:])
}

// slotKey is an ID as a slot holds it.
type slotKey struct {
	uuid uuidKey
	name string // the ID when it is not a canonical UUID
}

func keyOf(id string) slotKey {
	if k, ok := parseUUID(id); ok {
		return slotKey{uuid: k}
	}
	return slotKey{name: id}
}

// idAt returns the ID of slot i.
func (c *coll) idAt(i int) string {
	if c.names != nil && c.names[i] != "" {
		return c.names[i]
	}
	ch := c.chunks[i/chunkLen]
	return ch.keys[i%chunkLen].String()
}

// keyAt returns the key of slot i.
func (c *coll) keyAt(i int) slotKey {
	if c.names != nil && c.names[i] != "" {
		return slotKey{name: c.names[i]}
	}
	return slotKey{uuid: c.chunks[i/chunkLen].keys[i%chunkLen]}
}

func (c *coll) hash(k slotKey) uint64 {
	if k.name != "" {
		return maphash.String(c.seed, k.name)
	}
	return maphash.Bytes(c.seed, k.uuid[:])
}

// find returns the slot holding k, or -1 and the table position where k
// would go.
func (c *coll) find(k slotKey) (slot int, pos int) {
	mask := len(c.table) - 1
	for p := int(c.hash(k)) & mask; ; p = (p + 1) & mask {
		e := c.table[p]
		if e == 0 {
			return -1, p
		}
		if c.keyAt(int(e-1)) == k {
			return int(e - 1), p
		}
	}
}

// posOf returns the table position that holds slot i.
func (c *coll) posOf(i int) int {
	mask := len(c.table) - 1
	for p := int(c.hash(c.keyAt(i))) & mask; ; p = (p + 1) & mask {
		if c.table[p] == int32(i+1) {
			return p
		}
	}
}

// unlink empties table position p, moving later entries of the same run
// back so that every entry stays reachable from its home position.
func (c *coll) unlink(p int) {
	mask := len(c.table) - 1
	for {
		c.table[p] = 0
		q := p
		for {
			q = (q + 1) & mask
			e := c.table[q]
			if e == 0 {
				return
			}
			h := int(c.hash(c.keyAt(int(e-1)))) & mask
			// Leave the entry where it is when its home lies in (p, q].
			if (p < q && p < h && h <= q) || (p > q && (h > p || h <= q)) {
				continue
			}
			c.table[p] = e
			p = q
			break
		}
	}
}

// tableSize returns the table size for n IDs (at most 70% full).
func tableSize(n int) int {
	size := minTable
	for size*7 < n*10 {
		size *= 2
	}
	return size
}

// rehash rebuilds the table at the size that fits capacity IDs.
func (c *coll) rehash(capacity int) {
	c.table = make([]int32, tableSize(max(capacity, c.n)))
	mask := len(c.table) - 1
	for i := range c.n {
		p := int(c.hash(c.keyAt(i))) & mask
		for c.table[p] != 0 {
			p = (p + 1) & mask
		}
		c.table[p] = int32(i + 1)
	}
}
