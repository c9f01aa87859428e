package lintmetrics

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/horus-obs/horus/sdk/metrics"
)

// IDKind is what an id-like label value looks like.
type IDKind string

// The kinds IDLike recognises.
const (
	KindUUID   IDKind = "UUID"
	KindHex    IDKind = "long hex string"
	KindDigits IDKind = "long digit run"
	KindEmail  IDKind = "e-mail address"
	KindIP     IDKind = "IP address"
	KindPathID IDKind = "URL path with an id"
)

var (
	uuidRE   = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	hexRE    = regexp.MustCompile(`(?i)[0-9a-f]{16,}`)
	digitsRE = regexp.MustCompile(`[0-9]{6,}`)
	emailRE  = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$`)
)

// IDLike reports whether a label value looks like an identifier, and which
// kind: a UUID; a run of 16 or more hex digits with at least one digit and
// one letter (trace ids are 32, span ids 16); a run of 6 or more decimal
// digits (ports have 5, status codes 3, years 4); an e-mail address; an IP
// address, with or without a port; a URL path ("/…") with a segment that
// is all digits, a UUID or hex. Each is one value per user, request or
// host: a label holding them has no bound.
func IDLike(v string) (IDKind, bool) {
	switch {
	case uuidRE.MatchString(v):
		return KindUUID, true
	case emailRE.MatchString(v):
		return KindEmail, true
	case isIP(v):
		return KindIP, true
	case strings.HasPrefix(v, "/") && pathHasID(v):
		return KindPathID, true
	case hasMixedHex(v):
		return KindHex, true
	case digitsRE.MatchString(v):
		return KindDigits, true
	}
	return "", false
}

func isIP(v string) bool {
	if _, err := netip.ParseAddr(v); err == nil {
		return true
	}
	_, err := netip.ParseAddrPort(v)
	return err == nil
}

func hasMixedHex(v string) bool {
	for _, m := range hexRE.FindAllString(v, -1) {
		if strings.ContainsAny(m, "0123456789") && strings.ContainsAny(strings.ToLower(m), "abcdef") {
			return true
		}
	}
	return false
}

func pathHasID(p string) bool {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" {
			continue
		}
		if strings.Trim(seg, "0123456789") == "" || uuidRE.MatchString(seg) || (len(seg) >= 8 && hasMixedHex(seg)) {
			return true
		}
	}
	return false
}

// kindFix is where the values of a kind belong instead of a label: the
// advice of the SDK's deny list for the label such values are named for.
func kindFix(k IDKind) string {
	switch k {
	case KindEmail:
		return metrics.HighCardinalityLabels["email"].Fix
	case KindIP:
		return metrics.HighCardinalityLabels["ip"].Fix
	case KindPathID:
		return metrics.HighCardinalityLabels["path"].Fix
	}
	return metrics.HighCardinalityLabels["request_id"].Fix
}
