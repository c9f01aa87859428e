package fault

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// specKeys are the keys of the spec language, in the order String writes
// them. "duration" is read as a synonym of "for".
var specKeys = []string{"id", "kind", "service", "instance", "route", "median", "p99", "status", "message",
	"cpu", "fraction", "match", "min_items", "for", "version"}

// Parse reads a fault spec: space-separated key=value pairs, values quoted
// as in a POSIX shell where they hold spaces ('...' literally, "..." with \"
// and \\ escapes; quotes may also wrap a whole pair). For example
//
//	kind=latency service=payments instance=1 route="POST /pay" median=200ms p99=2s fraction=0.3 match=tenant:acme,payment_method:card for=10m
//
// Keys: id, kind, service, instance, route, median, p99 (Go durations),
// status (400-599), message, cpu (cores), fraction ((0, 1]), match
// (attr:value pairs separated by ',', and the key may be repeated),
// min_items, for (or duration; a Go duration, 0 until removed), version.
// The fault is validated (Fault.Validate, without a service list); an error
// names the key or the problem. Fault.String writes a spec Parse reads back
// to the same fault.
func Parse(spec string) (Fault, error) {
	args, err := splitSpec(spec)
	if err != nil {
		return Fault{}, err
	}
	return ParseArgs(args)
}

// ParseArgs reads a spec already split into key=value pairs, one a
// string, as a shell passes `horus demo fault add kind=error
// route="POST /pay"` (the quotes gone, the space kept). See Parse.
func ParseArgs(args []string) (Fault, error) {
	var f Fault
	seen := map[string]bool{}
	for _, a := range args {
		key, val, ok := strings.Cut(a, "=")
		if !ok {
			return Fault{}, fmt.Errorf("%q is not key=value (keys: %s)", a, strings.Join(specKeys, ", "))
		}
		if key == "duration" {
			key = "for"
		}
		if seen[key] && key != "match" {
			return Fault{}, fmt.Errorf("%s is given twice", key)
		}
		seen[key] = true
		if err := f.set(key, val); err != nil {
			return Fault{}, err
		}
	}
	if err := f.Validate(); err != nil {
		return Fault{}, err
	}
	return f, nil
}

func (f *Fault) set(key, val string) error {
	var err error
	switch key {
	case "id":
		f.ID = val
	case "kind":
		f.Kind = Kind(val)
	case "service":
		f.Target.Service = val
	case "instance":
		f.Target.Instance = val
	case "route":
		f.Target.Route = val
	case "median":
		f.Latency.Median, err = parseSpecDur(key, val)
	case "p99":
		f.Latency.P99, err = parseSpecDur(key, val)
	case "for":
		f.Duration, err = parseSpecDur(key, val)
	case "status":
		f.Status, err = parseInt(key, val)
	case "min_items":
		f.Scope.MinItems, err = parseInt(key, val)
	case "message":
		f.Message = val
	case "version":
		f.Version = val
	case "cpu", "fraction":
		var x float64
		if x, err = parseFloat(key, val); err == nil && x == 0 {
			err = fmt.Errorf("%s=%s: must be above 0 (leave it out for the default)", key, val)
		}
		if key == "cpu" {
			f.CPU = x
		} else {
			f.Scope.Fraction = x
		}
	case "match":
		err = f.addMatch(val)
	default:
		return fmt.Errorf("unknown key %q (keys: %s)", key, strings.Join(specKeys, ", "))
	}
	return err
}

func (f *Fault) addMatch(val string) error {
	if val == "" {
		return errors.New("match is empty (write match=attr:value,attr:value)")
	}
	for _, pair := range strings.Split(val, ",") {
		k, v, ok := strings.Cut(pair, ":")
		if !ok || k == "" || v == "" {
			return fmt.Errorf("match %q: write attr:value pairs separated by ',' (e.g. tenant:acme,payment_method:card)", pair)
		}
		if f.Scope.Match == nil {
			f.Scope.Match = map[string]string{}
		}
		if _, dup := f.Scope.Match[k]; dup {
			return fmt.Errorf("match %s is given twice", k)
		}
		f.Scope.Match[k] = v
	}
	return nil
}

func parseSpecDur(key, val string) (time.Duration, error) {
	if val == "" {
		return 0, fmt.Errorf("%s is empty (a duration such as 250ms, 2s or 10m)", key)
	}
	return parseDur(key, val)
}

func parseInt(key, val string) (int, error) {
	n, err := strconv.Atoi(val)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not a whole number", key, val)
	}
	return n, nil
}

func parseFloat(key, val string) (float64, error) {
	x, err := strconv.ParseFloat(val, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not a number", key, val)
	}
	return x, nil
}

// splitSpec splits a spec into words as a POSIX shell does: blanks
// separate, '...' keeps its text literally, "..." keeps it with \" and \\
// (and \ before anything else kept as is), a \ outside quotes escapes the
// next character.
func splitSpec(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unclosed ' at byte %d", i)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New(`unclosed " in the spec`)
			}
			in = true
		case '\\':
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
			in = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// String returns f as a spec that Parse reads back to f (Expires aside):
// the keys in a fixed order (id, kind, service, instance, route, median,
// p99, status, message, cpu, fraction, match, min_items, for, version),
// zero values left out, match attributes sorted, values double-quoted
// where they hold blanks, quotes, backslashes or are empty.
func (f Fault) String() string {
	var b strings.Builder
	put := func(k, v string) {
		if v == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(quote(v))
	}
	num := func(x float64) string {
		if x == 0 {
			return ""
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	count := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	put("id", f.ID)
	put("kind", string(f.Kind))
	put("service", f.Target.Service)
	put("instance", f.Target.Instance)
	put("route", f.Target.Route)
	put("median", durText(f.Latency.Median))
	put("p99", durText(f.Latency.P99))
	put("status", count(f.Status))
	put("message", f.Message)
	put("cpu", num(f.CPU))
	put("fraction", num(f.Scope.Fraction))
	if len(f.Scope.Match) > 0 {
		pairs := make([]string, 0, len(f.Scope.Match))
		for _, k := range sortedKeys(f.Scope.Match) {
			pairs = append(pairs, k+":"+f.Scope.Match[k])
		}
		put("match", strings.Join(pairs, ","))
	}
	put("min_items", count(f.Scope.MinItems))
	put("for", durText(f.Duration))
	put("version", f.Version)
	return b.String()
}

// quote returns v as one shell word for splitSpec: as is when it has no
// blank, quote or backslash, else double-quoted with " and \ escaped.
func quote(v string) string {
	if !strings.ContainsAny(v, " \t\n\r'\"\\") {
		return v
	}
	return `"` + specEscaper.Replace(v) + `"`
}

var specEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)
