package events

import (
	"encoding/binary"
	"errors"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// bloom is a split-block Bloom filter, the layout Parquet specifies for its
// own filters: 256-bit blocks, one block chosen by the upper half of a
// 64-bit hash, eight bits set in it by the lower half. One cache line is
// touched per probe.
type bloom []uint32 // len is a multiple of 8

var bloomSalt = [8]uint32{0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31}

// newBloom sizes a filter for n keys at bitsPerKey bits each.
func newBloom(n, bitsPerKey int) bloom {
	blocks := (n*bitsPerKey + 255) / 256
	if blocks < 1 {
		blocks = 1
	}
	return make(bloom, blocks*8)
}

func (b bloom) block(h uint64) []uint32 {
	n := uint64(len(b) / 8)
	idx := ((h >> 32) * n) >> 32
	return b[idx*8 : idx*8+8]
}

func (b bloom) addHash(h uint64) {
	blk := b.block(h)
	x := uint32(h)
	for i := range blk {
		blk[i] |= 1 << ((x * bloomSalt[i]) >> 27)
	}
}

func (b bloom) hasHash(h uint64) bool {
	if len(b) == 0 {
		return true // no filter: everything may be there
	}
	blk := b.block(h)
	x := uint32(h)
	for i := range blk {
		if blk[i]&(1<<((x*bloomSalt[i])>>27)) == 0 {
			return false
		}
	}
	return true
}

func hashString(s string) uint64 { return xxhash.Sum64String(s) }
func hashBytes(b []byte) uint64  { return xxhash.Sum64(b) }

func (b bloom) appendTo(dst []byte) []byte {
	for _, w := range b {
		dst = binary.LittleEndian.AppendUint32(dst, w)
	}
	return dst
}

func readBloom(p []byte) (bloom, error) {
	if len(p)%32 != 0 {
		return nil, errors.New("bloom filter size is not a multiple of 32 bytes")
	}
	b := make(bloom, len(p)/4)
	for i := range b {
		b[i] = binary.LittleEndian.Uint32(p[4*i:])
	}
	return b, nil
}

// tokens calls fn for each token of s: a maximal run of letters, digits
// and '_' (ASCII, or any byte of a multi-byte UTF-8 character), lowered to
// ASCII lower case. Full-text search looks tokens up in the same form.
func tokens(s string, buf []byte, fn func(tok []byte)) []byte {
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && isTokenByte(s[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			buf = buf[:0]
			for j := start; j < i; j++ {
				c := s[j]
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				buf = append(buf, c)
			}
			fn(buf)
			start = -1
		}
	}
	return buf
}

func isTokenByte(c byte) bool {
	return c >= 0x80 || c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// gramSet is the set of byte trigrams of a row group's bodies: a bit per
// possible trigram (2 MiB), so adding one is a shift and an or. Substring
// search (Contains) prunes a row group that lacks one of the needle's
// trigrams.
type gramSet [1 << 24 / 64]uint64

func gramAt(s string, i int) uint32 {
	return uint32(s[i])<<16 | uint32(s[i+1])<<8 | uint32(s[i+2])
}

func (g *gramSet) addAll(s string) {
	for i := 0; i+3 <= len(s); i++ {
		v := gramAt(s, i)
		g[v>>6] |= 1 << (v & 63)
	}
}

// drain returns the trigrams in the set and empties it.
func (g *gramSet) drain() []uint32 {
	var out []uint32
	for w, bitsw := range g {
		for bitsw != 0 {
			b := bits.TrailingZeros64(bitsw)
			out = append(out, uint32(w)<<6|uint32(b))
			bitsw &= bitsw - 1
		}
		g[w] = 0
	}
	return out
}

// hashGram is a trigram's key in the token filter: 0xff first, which no
// token holds, so trigrams and tokens do not share keys.
func hashGram(g uint32) uint64 {
	return hashBytes([]byte{0xff, byte(g >> 16), byte(g >> 8), byte(g)})
}
