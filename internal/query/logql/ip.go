package logql

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrIPPattern is the error of an ip("...") whose pattern is neither an
// address, a CIDR prefix nor a range of two addresses.
var ErrIPPattern = errors.New("ip: invalid pattern")

// IPMatcher is the pattern of LogQL's ip() filters, as Loki's
// pkg/logql/log/ip.go reads it: a single address ("192.168.0.1",
// "::1"), a CIDR prefix ("192.168.0.0/16", "2001:db8::/32"; the host
// bits need not be zero) or an inclusive range of two addresses of one
// family ("192.168.0.1-192.168.0.23", no blanks), IPv4 or IPv6.
type IPMatcher struct {
	pattern  string
	addr     netip.Addr // a single address
	prefix   netip.Prefix
	from, to netip.Addr // a range
}

// ParseIPMatcher compiles an ip() pattern: an address, else a prefix,
// else a range, as Loki's getMatcher tries them.
func ParseIPMatcher(pattern string) (*IPMatcher, error) {
	m := &IPMatcher{pattern: pattern}
	if a, err := netip.ParseAddr(pattern); err == nil {
		m.addr = a
		return m, nil
	}
	if p, err := netip.ParsePrefix(pattern); err == nil {
		m.prefix = p
		return m, nil
	}
	// netipx.ParseIPRange: from-to, zones dropped, one family, from <= to.
	if from, to, ok := strings.Cut(pattern, "-"); ok {
		f, err1 := netip.ParseAddr(from)
		t, err2 := netip.ParseAddr(to)
		f, t = f.WithZone(""), t.WithZone("")
		if err1 == nil && err2 == nil && f.BitLen() == t.BitLen() && f.Compare(t) <= 0 {
			m.from, m.to = f, t
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrIPPattern, pattern)
}

// String returns the pattern as written.
func (m *IPMatcher) String() string { return m.pattern }

func (m *IPMatcher) contains(ip netip.Addr) bool {
	switch {
	case m.addr.IsValid():
		return m.addr.Compare(ip) == 0
	case m.prefix.IsValid():
		return m.prefix.Contains(ip)
	default:
		return ip.Zone() == "" && m.from.Compare(ip) <= 0 && m.to.Compare(ip) >= 0
	}
}

// Match reports whether s holds an address the pattern matches, found as
// Loki's ipFilter finds them (so that the same lines match): scanning s,
// a digit followed by a '.' within the next three bytes starts an IPv4
// candidate, the longest run of [0-9.]; else a position that looks like
// the start of an IPv6 address ("::" and a hex digit, or one to four hex
// digits and a ':') starts a candidate, the longest run of [0-9a-fA-F:.].
// A candidate that parses (netip.ParseAddr: no leading zeros, no trailing
// '.') and is in the pattern matches; else the scan goes on after it.
// The label filter applies the same scan to the label's value.
func (m *IPMatcher) Match(s string) bool {
	n := len(s)
	at := func(i int) byte {
		if i < n {
			return s[i]
		}
		return 0
	}
	try := func(start int, charset string) (bool, int) {
		l := start
		for l < n && strings.IndexByte(charset, s[l]) >= 0 {
			l++
		}
		if ip, err := netip.ParseAddr(s[start:l]); err == nil && m.contains(ip) {
			return true, 0
		}
		return false, l - start
	}
	for i := 0; i < n; i++ {
		if i+3 < n && isDigit(s[i]) && (s[i+1] == '.' || s[i+2] == '.' || s[i+3] == '.') {
			ok, skip := try(i, "0123456789.")
			if ok {
				return true
			}
			i += skip
			continue
		}
		if ipv6Hint(at(i), at(i+1), at(i+2), at(i+3), at(i+4)) {
			ok, skip := try(i, "0123456789abcdefABCDEF:.")
			if ok {
				return true
			}
			i += skip
		}
	}
	return false
}

// ipv6Hint is Loki's: "::" and a hex digit, or one to four hex digits
// and a ':'.
func ipv6Hint(a, b, c, d, e byte) bool {
	h := func(x byte) bool { return hexVal(x) >= 0 }
	return a == ':' && b == ':' && h(c) ||
		h(a) && b == ':' ||
		h(a) && h(b) && c == ':' ||
		h(a) && h(b) && h(c) && d == ':' ||
		h(a) && h(b) && h(c) && h(d) && e == ':'
}
