// Package redact masks secrets in log lines and attributes before they are
// stored: values of secret-named keys, card numbers (Luhn-checked; the
// last 4 digits kept), API keys of known formats (their prefix kept),
// bearer and basic credentials, JSON web tokens, e-mail addresses (the
// domain kept), and custom regular-expression rules.
//
// The built-in detectors are hand-written scanners rather than regular
// expressions: a line without a trigger (a digit run, '@', '=' or ':', a
// known prefix) costs one pass over its bytes.
package redact

import (
	"fmt"
	"regexp"
	"strings"
)

// Mask replaces a whole secret value.
const Mask = "<redacted>"

// Rule is a custom rule: every match of Pattern is replaced by Replace
// (which may use $1-style references).
type Rule struct {
	Name    string `yaml:"name"`
	Pattern string `yaml:"pattern"`
	Replace string `yaml:"replace"`
}

// Config chooses the detectors. The zero value turns them all off; Default
// is what Horus runs with.
type Config struct {
	// SecretKeys are key names whose values are secrets, matched without
	// case and ignoring '-', '_' and '.' anywhere in the key:
	// "password" catches "db.password" and "X-Password".
	SecretKeys []string `yaml:"secret_keys"`
	Cards      bool     `yaml:"cards"`
	APIKeys    bool     `yaml:"api_keys"`
	Bearer     bool     `yaml:"bearer"`
	JWT        bool     `yaml:"jwt"`
	Emails     bool     `yaml:"emails"`
	Rules      []Rule   `yaml:"rules"`
}

// Default is the built-in configuration: every detector on.
func Default() Config {
	return Config{
		SecretKeys: []string{"password", "passwd", "pwd", "secret", "token", "apikey", "accesskey", "privatekey",
			"authorization", "credential", "cookie", "session", "clientsecret", "passphrase"},
		Cards: true, APIKeys: true, Bearer: true, JWT: true, Emails: true,
	}
}

// Redactor applies a Config. It is safe for concurrent use.
type Redactor struct {
	cfg   Config
	keys  *keyMatcher // the normalised secret key names; nil for none
	rules []compiledRule
}

type compiledRule struct {
	name    string
	re      *regexp.Regexp
	replace string
}

// New checks and compiles cfg.
func New(cfg Config) (*Redactor, error) {
	r := &Redactor{cfg: cfg}
	var names []string
	for _, k := range cfg.SecretKeys {
		n := normKey(k)
		if n == "" {
			return nil, fmt.Errorf("redaction: secret key %q is empty once '-', '_' and '.' are dropped", k)
		}
		names = append(names, n)
	}
	if len(names) > 0 {
		r.keys = newKeyMatcher(names)
	}
	for i, rule := range cfg.Rules {
		re, err := regexp.Compile(rule.Pattern)
		if err != nil {
			return nil, fmt.Errorf("redaction rule %d (%q): %w", i, rule.Name, err)
		}
		if re.MatchString("") {
			return nil, fmt.Errorf("redaction rule %d (%q): pattern %q matches the empty string", i, rule.Name, rule.Pattern)
		}
		r.rules = append(r.rules, compiledRule{rule.Name, re, rule.Replace})
	}
	return r, nil
}

// normKey lowers a key and drops '-', '_', '.' and spaces.
func normKey(k string) string { return string(appendNorm(nil, k)) }

func appendNorm(dst []byte, k string) []byte {
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '-' || c == '_' || c == '.' || c == ' ':
		case c >= 'A' && c <= 'Z':
			dst = append(dst, c+32)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// SecretKey reports whether a key names a secret: whether, without case
// and once '-', '_', '.' and spaces are dropped, it contains one of
// Config.SecretKeys.
func (r *Redactor) SecretKey(key string) bool {
	return r.keys != nil && r.keys.match(key)
}

// Value redacts the value of an attribute: all of it under a secret key,
// else what the text detectors find in it.
func (r *Redactor) Value(key, value string) (string, bool) {
	if value == "" {
		return value, false
	}
	if r.SecretKey(key) {
		return Mask, value != Mask
	}
	return r.Text(value)
}

// Text redacts free text, such as a log line. It returns s itself when
// nothing was found.
func (r *Redactor) Text(s string) (string, bool) {
	return r.text(s, scan(s))
}

// text runs the detectors t says may find something.
func (r *Redactor) text(s string, t triggers) (string, bool) {
	out := s
	if r.keys != nil && t.seps > 0 {
		out = r.keyValues(out)
	}
	if r.cfg.Bearer && t.spaced > 0 && len(s) >= 7 {
		out = r.bearer(out)
	}
	if r.cfg.JWT && t.dots >= 2 && t.maxRun >= 3 && len(s) >= 30 {
		out = jwts(out)
	}
	if r.cfg.APIKeys && t.maxRun >= minKeyRun {
		out = apiKeys(out)
	}
	if r.cfg.Cards && t.digits >= 13 {
		out = cards(out)
	}
	if r.cfg.Emails && t.ats > 0 {
		out = emails(out)
	}
	for _, rule := range r.rules {
		out = rule.re.ReplaceAllString(out, rule.replace)
	}
	return out, out != s
}

// Byte classes for the triggers pre-pass.
const (
	clB64 = 1 << iota // base64url: a run of them may be an API key
	clDigit
	clSep // '=' or ':', after a key
	clAt
	clDot
)

var classes = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		if isB64URL(byte(c)) {
			t[c] |= clB64
		}
	}
	for c := '0'; c <= '9'; c++ {
		t[c] |= clDigit
	}
	t['='], t[':'], t['@'], t['.'] = clSep, clSep, clAt, clDot
	return t
}()

// triggers counts what each detector needs to find anything: most
// attribute values and lines have none of it, and cost this one pass.
type triggers struct {
	seps, ats, dots int
	spaced          int // "r " and "c " without case: the ends of "Bearer " and "Basic "
	digits          int // the most digits in a group joined by single ' ' or '-'
	maxRun          int // the longest run of base64url bytes
}

func scan(s string) triggers {
	var t triggers
	run, digits, sep := 0, 0, false
	for i := 0; i < len(s); i++ {
		b := s[i]
		c := classes[b]
		if c&clDigit != 0 {
			digits++
			sep = false
			t.digits = max(t.digits, digits)
		} else if (b == ' ' || b == '-') && digits > 0 && !sep {
			sep = true
		} else {
			digits, sep = 0, false
		}
		if c&clB64 != 0 {
			run++
			continue
		}
		t.maxRun = max(t.maxRun, run)
		run = 0
		switch c {
		case clSep:
			t.seps++
		case clAt:
			t.ats++
		case clDot:
			t.dots++
		}
		if b == ' ' && i > 0 && (s[i-1]|0x20 == 'r' || s[i-1]|0x20 == 'c') {
			t.spaced++
		}
	}
	t.maxRun = max(t.maxRun, run)
	return t
}

// edit collects replacements of byte ranges of s, in order.
type edit struct {
	s    string
	b    strings.Builder
	last int
	n    int
}

func (e *edit) replace(from, to int, with string) {
	if e.n == 0 {
		e.b.Grow(len(e.s))
	}
	e.b.WriteString(e.s[e.last:from])
	e.b.WriteString(with)
	e.last = to
	e.n++
}

func (e *edit) result() string {
	if e.n == 0 {
		return e.s
	}
	e.b.WriteString(e.s[e.last:])
	return e.b.String()
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// keyValues masks the values of secret keys written key=value,
// key: value, "key": "value" or key="value" in text.
func (r *Redactor) keyValues(s string) string {
	e := edit{s: s}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '=' && c != ':' {
			continue
		}
		// The key before the separator, past a closing quote.
		k := i
		if k > 0 && s[k-1] == '"' {
			k--
		}
		ks := k
		for ks > 0 && isWordByte(s[ks-1]) {
			ks--
		}
		if ks == k || ks < e.last || !r.SecretKey(s[ks:k]) {
			continue
		}
		// The value after it, past spaces and an opening quote.
		v := i + 1
		for v < len(s) && s[v] == ' ' {
			v++
		}
		quote := byte(0)
		if v < len(s) && (s[v] == '"' || s[v] == '\'') {
			quote = s[v]
			v++
		}
		ve := valueEnd(s, v, quote)
		if w := s[v:ve]; quote == 0 && ve < len(s) && s[ve] == ' ' && (strings.EqualFold(w, "bearer") || strings.EqualFold(w, "basic")) {
			ve = valueEnd(s, ve+1, 0) // "Authorization: Bearer <token>" is one value
		}
		if ve > v && s[v:ve] != Mask {
			e.replace(v, ve, Mask)
		}
		i = ve
	}
	return e.result()
}

// valueEnd is the end of a value starting at v: its closing quote, or
// unquoted, the first space or delimiter.
func valueEnd(s string, v int, quote byte) int {
	ve := v
	for ve < len(s) {
		b := s[ve]
		if quote != 0 && b == quote && s[ve-1] != '\\' || quote == 0 && (b == ' ' || b == ',' || b == ';' || b == '&' || b == '"' || b == '}' || b == '\t' || b == '\n') {
			break
		}
		ve++
	}
	return ve
}

// bearer masks the credentials after "Bearer " and "Basic ".
func (r *Redactor) bearer(s string) string {
	e := edit{s: s}
	for i := 0; i+6 < len(s); i++ {
		var n int
		switch s[i] {
		case 'B', 'b':
			if strings.EqualFold(s[i:i+7], "bearer ") {
				n = 7
			} else if strings.EqualFold(s[i:i+6], "basic ") {
				n = 6
			}
		}
		if n == 0 || i > 0 && isWordByte(s[i-1]) || i < e.last {
			continue
		}
		v := i + n
		ve := v
		for ve < len(s) && s[ve] != ' ' && s[ve] != '"' && s[ve] != ',' && s[ve] != '\'' && s[ve] != '\n' {
			ve++
		}
		if ve-v >= 8 && s[v:ve] != Mask {
			e.replace(v, ve, Mask)
		}
		i = ve
	}
	return e.result()
}

func isB64URL(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// jwts masks JSON web tokens: three base64url parts, the first two
// starting with eyJ ('{"').
func jwts(s string) string {
	e := edit{s: s}
	for i := strings.Index(s, "eyJ"); i >= 0; {
		end, dots := i, 0
		for end < len(s) && (isB64URL(s[end]) || s[end] == '.') {
			if s[end] == '.' {
				dots++
			}
			end++
		}
		if dots == 2 && end-i >= 30 && strings.HasPrefix(s[strings.IndexByte(s[i:], '.')+i+1:], "eyJ") && (i == 0 || !isB64URL(s[i-1])) {
			e.replace(i, end, Mask)
		}
		next := strings.Index(s[end:], "eyJ")
		if next < 0 {
			break
		}
		i = end + next
	}
	return e.result()
}

// apiKeyPrefixes are formats of API keys whose prefix is kept.
var apiKeyPrefixes = []struct {
	prefix string
	min    int // characters after the prefix
}{
	{"sk_live_", 16}, {"sk_test_", 16}, {"rk_live_", 16}, {"rk_test_", 16}, {"whsec_", 16}, // Stripe
	{"ghp_", 30}, {"gho_", 30}, {"ghu_", 30}, {"ghs_", 30}, {"ghr_", 30}, {"github_pat_", 30}, // GitHub
	{"glpat-", 20},                                             // GitLab
	{"xoxb-", 20}, {"xoxp-", 20}, {"xoxa-", 20}, {"xapp-", 20}, // Slack
	{"AKIA", 16}, {"ASIA", 16}, // AWS access key ids
	{"AIza", 35},                                   // Google API keys
	{"sk-ant-", 20}, {"sk-proj-", 20}, {"sk-", 40}, // Anthropic, OpenAI
	{"npm_", 36},    // npm
	{"SG.", 40},     // SendGrid
	{"hf_", 30},     // Hugging Face
	{"dop_v1_", 40}, // DigitalOcean
	{"pypi-", 40},   // PyPI
	{"shpat_", 30},  // Shopify
	{"key-", 32},    // Mailgun
}

// minKeyRun is the shortest run of base64url bytes an API key can be:
// prefix and body (SendGrid's "SG." splits the run, but its body alone
// is longer).
var minKeyRun = func() int {
	n := 1 << 30
	for _, p := range apiKeyPrefixes {
		if i := strings.IndexByte(p.prefix, '.'); i >= 0 {
			n = min(n, len(p.prefix)-i-1+p.min)
		} else {
			n = min(n, len(p.prefix)+p.min)
		}
	}
	return n
}()

// keysByFirst indexes apiKeyPrefixes by first byte, in their order.
var keysByFirst = func() (t [256][]int) {
	for i, p := range apiKeyPrefixes {
		t[p.prefix[0]] = append(t[p.prefix[0]], i)
	}
	return t
}()

// apiKeys masks API keys of known formats, keeping their prefix. A key
// starts a run of base64url bytes; the first prefix listed that fits
// wins (so sk-ant- before sk-).
func apiKeys(s string) string {
	e := edit{s: s}
	for i := 0; i < len(s); i++ {
		if !isB64URL(s[i]) || i > 0 && isB64URL(s[i-1]) {
			continue
		}
		for _, k := range keysByFirst[s[i]] {
			p := apiKeyPrefixes[k]
			if !strings.HasPrefix(s[i:], p.prefix) {
				continue
			}
			end := i + len(p.prefix)
			for end < len(s) && isB64URL(s[end]) {
				end++
			}
			if end-i-len(p.prefix) >= p.min {
				e.replace(i+len(p.prefix), end, Mask)
				i = end - 1
				break
			}
		}
	}
	return e.result()
}

// cards masks card numbers: 13 to 19 digits, in groups separated by single
// spaces or dashes, passing the Luhn check; every digit but the last 4
// becomes '*'.
func cards(s string) string {
	e := edit{s: s}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' || i > 0 && (isWordByte(s[i-1]) && s[i-1] != '-' || s[i-1] >= '0' && s[i-1] <= '9') {
			continue
		}
		digits, end := 0, i
		for end < len(s) {
			c := s[end]
			if c >= '0' && c <= '9' {
				digits++
				end++
				continue
			}
			if (c == ' ' || c == '-') && end+1 < len(s) && s[end+1] >= '0' && s[end+1] <= '9' && s[end-1] >= '0' && s[end-1] <= '9' {
				end++
				continue
			}
			break
		}
		if digits >= 13 && digits <= 19 && (end == len(s) || !isWordByte(s[end]) || s[end] == '-' || s[end] == '.') && luhn(s[i:end]) {
			masked := []byte(s[i:end])
			left := digits - 4
			for k := range masked {
				if left == 0 {
					break
				}
				if masked[k] >= '0' && masked[k] <= '9' {
					masked[k] = '*'
					left--
				}
			}
			e.replace(i, end, string(masked))
		}
		i = end
	}
	return e.result()
}

// luhn checks the digits of s (other bytes skipped).
func luhn(s string) bool {
	sum, double := 0, false
	for k := len(s) - 1; k >= 0; k-- {
		c := s[k]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func isLocalByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._%+-", c) >= 0
}

func isDomainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-'
}

// emails masks the local part of e-mail addresses, keeping the domain.
func emails(s string) string {
	e := edit{s: s}
	for off := 0; ; {
		j := strings.IndexByte(s[off:], '@')
		if j < 0 {
			break
		}
		at := off + j
		ls := at
		for ls > 0 && isLocalByte(s[ls-1]) {
			ls--
		}
		de := at + 1
		for de < len(s) && isDomainByte(s[de]) {
			de++
		}
		for de > at+1 && (s[de-1] == '.' || s[de-1] == '-') { // a sentence's full stop
			de--
		}
		domain := s[at+1 : de]
		dot := strings.LastIndexByte(domain, '.')
		if ls < at && ls >= e.last && dot > 0 && len(domain)-dot-1 >= 2 && s[ls:at] != "***" {
			e.replace(ls, at, "***")
		}
		off = max(de, at+1)
	}
	return e.result()
}
