package redact

// keyMatcher finds the secret key names in a key: an Aho-Corasick
// automaton (Aho and Corasick, "Efficient string matching", CACM 1975)
// over the normalised key, built once by New, so a key costs one table
// step per byte, without copying it, whatever the number of names.
type keyMatcher struct {
	// class maps a byte to its column in next: 0 for bytes in no name,
	// skip for those normalisation drops ('-', '_', '.', ' '); an upper
	// case ASCII letter shares its lower case letter's column.
	class   [256]uint16
	classes int
	// next[row+class] is the row (state×classes) of the state after a
	// byte, or -1 when a name ends there or at a suffix of it; row 0 is
	// the root's. One load a byte.
	next []int32
}

// skip marks the bytes normalisation drops.
const skip = 0xffff

// newKeyMatcher builds the automaton of names, each already normalised
// (normKey) and not empty.
func newKeyMatcher(names []string) *keyMatcher {
	m := &keyMatcher{classes: 1}
	for _, b := range []byte{'-', '_', '.', ' '} {
		m.class[b] = skip
	}
	for _, n := range names {
		for i := 0; i < len(n); i++ {
			if m.class[n[i]] != 0 {
				continue
			}
			m.class[n[i]] = uint16(m.classes)
			m.classes++
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		m.class[c] = m.class[c+32]
	}
	// The trie: -1 where no edge.
	var found []bool // a name ends at the state or at a suffix of it
	grow := func() {
		for range m.classes {
			m.next = append(m.next, -1)
		}
		found = append(found, false)
	}
	grow()
	for _, n := range names {
		s := int32(0)
		for i := 0; i < len(n); i++ {
			e := int(s)*m.classes + int(m.class[n[i]])
			if m.next[e] < 0 {
				m.next[e] = int32(len(found))
				grow()
			}
			s = m.next[e]
		}
		found[s] = true
	}
	// Failure links in breadth-first order turn the trie into the full
	// transition table: a missing edge goes where the longest proper
	// suffix's state goes.
	fail := make([]int32, len(found))
	queue := make([]int32, 0, len(found))
	for c := 0; c < m.classes; c++ {
		if t := m.next[c]; t > 0 {
			queue = append(queue, t)
		} else {
			m.next[c] = 0
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		found[s] = found[s] || found[fail[s]]
		for c := 0; c < m.classes; c++ {
			e := int(s)*m.classes + c
			f := m.next[int(fail[s])*m.classes+c]
			if t := m.next[e]; t > 0 {
				fail[t] = f
				queue = append(queue, t)
			} else {
				m.next[e] = f
			}
		}
	}
	for e, t := range m.next {
		if found[t] {
			m.next[e] = -1
		} else {
			m.next[e] = t * int32(m.classes)
		}
	}
	return m
}

// match reports whether a name occurs in the normalised key.
func (m *keyMatcher) match(key string) bool {
	row := int32(0)
	for i := 0; i < len(key); i++ {
		c := m.class[key[i]]
		if c == skip {
			continue
		}
		if row = m.next[row+int32(c)]; row < 0 {
			return true
		}
	}
	return false
}
