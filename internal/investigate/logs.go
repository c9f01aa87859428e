package investigate

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/horus-obs/horus/internal/store/events"
)

// logsWeight scales the log findings' scores: a new error line is strong
// evidence of what happened, rarely of where on its own.
const logsWeight = 0.8

// maxLogFindings is how many patterns become findings.
const maxLogFindings = 3

// Templates: a line's words, those with a digit as <_> (the templates of
// /loki/api/v1/patterns, without its merging of similar templates), so
// "connection refused to payments-3" is "connection refused to <_>".
const (
	variable     = "<_>"
	maxTmplWords = 32
)

// templater hashes the templates of lines: the template as Template
// writes it (its first 32 words joined by one space, those with a digit
// as <_>) is copied into a buffer the templater reuses, then hashed with
// xxhash in one call. (FNV-1a byte by byte, the hash before, waits on a
// multiplication per byte: 123 ns of CPU a line of bench/eventgen's shop
// against 80, measured as BenchmarkTemplateHash's lines.) Not safe for
// concurrent use: one per goroutine.
type templater struct{ buf []byte }

// hash is the hash of the template of line.
func (t *templater) hash(line string) uint64 {
	b := t.buf[:0]
	for i, words := 0, 0; i < len(line) && words < maxTmplWords; {
		if charClass[line[i]]&blank != 0 {
			i++
			continue
		}
		j, cl := i, uint8(0)
		for j < len(line) {
			c := charClass[line[j]]
			if c&blank != 0 {
				break
			}
			cl |= c
			j++
		}
		if words > 0 {
			b = append(b, ' ')
		}
		if cl&digit != 0 {
			b = append(b, variable...)
		} else {
			b = append(b, line[i:j]...)
		}
		words++
		i = j
	}
	t.buf = b
	return xxhash.Sum64(b)
}

// Character classes of template words (charClass): blanks separate
// words, a digit makes a word variable.
const (
	blank uint8 = 1 << iota
	digit
)

var charClass = func() (c [256]uint8) {
	for _, b := range []byte{' ', '\t', '\n', '\r'} {
		c[b] = blank
	}
	for b := '0'; b <= '9'; b++ {
		c[b] = digit
	}
	return c
}()

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Template is the template of a line: its words, those with a digit as
// <_>, at most 32 words.
func Template(line string) string {
	var words []string
	forWords(line, func(w string) bool {
		if len(words) == maxTmplWords {
			words = append(words, variable)
			return false
		}
		if strings.ContainsAny(w, "0123456789") {
			w = variable
		}
		words = append(words, w)
		return true
	})
	return strings.Join(words, " ")
}

// forWords calls fn with each blank-separated word of s until it returns
// false.
func forWords(s string, fn func(string) bool) {
	for i := 0; i < len(s); {
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isBlank(s[j]) {
			j++
		}
		if j > i && !fn(s[i:j]) {
			return
		}
		i = j
	}
}

// pattern is a template's counts in one service's logs.
type pattern struct {
	service, template string
	level             string
	before, during    int
	onBad             int
	instances         map[string]int
	example           string // a trace id of a line on a bad trace
}

type patKey struct {
	service string
	hash    uint64
}

// LogDetails are a log finding's figures.
type LogDetails struct {
	Service  string `json:"service"`
	Pattern  string `json:"pattern"`
	Level    string `json:"level,omitempty"`
	Before   int    `json:"before"`
	During   int    `json:"during"`
	OnBad    int    `json:"onBadTraces"`
	Instance string `json:"instance,omitempty"`
	// BeforeSeconds and DuringSeconds are the lengths of the periods
	// counted: before the onset and from it to the end.
	BeforeSeconds float64 `json:"beforeSeconds"`
	DuringSeconds float64 `json:"duringSeconds"`
}

// logScan is the log lines read for an investigation: the templates of
// the lines of the services scanned from before the onset to the end,
// counted. Its scans may run at the same time (the lines of the
// symptom's service and of those on most bad traces while BubbleUp and
// where run, then those of the services they implicate).
type logScan struct {
	r              *run
	bStart, dStart time.Time // the periods before and since the onset
	badIDs         map[events.TraceID]bool

	mu       sync.Mutex
	services []string
	pats     map[patKey]*pattern
	// earliest is each service's first line read: a service whose lines
	// begin after bStart (Horus, or the service, started since; the
	// retention's edge) has a shorter period before the onset.
	earliest map[string]int64
	lines    int
	failed   bool
}

// newLogScan sets the periods: since the onset (or the window's start)
// to the end, and as long before it (the window's part before the onset
// when that is longer, at most 6 hours).
func (r *run) newLogScan() *logScan {
	dStart := r.req.Start
	if r.onsetOK {
		dStart = r.onset
	}
	d := max(dStart.Sub(r.req.Start), r.req.End.Sub(dStart))
	d = min(d, 6*time.Hour)
	ls := &logScan{r: r, dStart: dStart, bStart: dStart.Add(-d), badIDs: map[events.TraceID]bool{},
		pats: map[patKey]*pattern{}, earliest: map[string]int64{}}
	for _, t := range r.traces.bad {
		ls.badIDs[t.id] = true
	}
	return ls
}

// logServicesFirst are the services whose logs are read first: the
// symptom's and those on at least half of the bad traces, whose logs may
// tell what the bad requests met on the way.
func (r *run) logServicesFirst() []string {
	services := []string{r.req.Service}
	through := r.servicesOnBad()
	for svc, n := range through {
		if Proportion(n, len(r.traces.bad)) >= 0.5 && !slices.Contains(services, svc) {
			services = append(services, svc)
		}
	}
	sort.Strings(services[1:])
	return services
}

// scan reads and counts the lines of services not scanned yet (the
// store filters by service; the columns read are the time, body, trace
// id, service, resource and severity).
func (ls *logScan) scan(ctx context.Context, services []string) {
	ls.mu.Lock()
	var todo []string
	for _, s := range services {
		if !slices.Contains(ls.services, s) {
			todo = append(todo, s)
		}
	}
	ls.services = append(ls.services, todo...)
	ls.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	r := ls.r
	q := events.Query{
		Tenant: r.req.Tenant, Kind: events.KindLog, Start: ls.bStart.UnixNano(), End: r.req.End.UnixNano(),
		Filters: []events.Filter{{Field: "service_name", Op: events.In, Value: strings.Join(todo, ",")}},
		Fields:  []string{"time", "body", "trace_id", "service_name", "resource", "severity_text", "severity_number"},
	}
	dNs := ls.dStart.UnixNano()
	_, err := r.e.o.Events.ScanConcurrent(ctx, q, func(evs []events.Event) error {
		type local struct {
			before, during, onBad int
			inst                  map[string]int
			first                 *events.Event
			example               events.TraceID
		}
		loc := map[patKey]*local{}
		first := map[string]int64{}
		var tm templater
		for i := range evs {
			e := &evs[i]
			if t, ok := first[e.Service]; !ok || e.Time < t {
				first[e.Service] = e.Time
			}
			k := patKey{e.Service, tm.hash(e.Body)}
			l := loc[k]
			if l == nil {
				l = &local{first: e}
				loc[k] = l
			}
			if e.Time < dNs {
				l.before++
				continue
			}
			l.during++
			if v, ok := e.Resource.Get("service.instance.id"); ok {
				if l.inst == nil {
					l.inst = map[string]int{}
				}
				l.inst[v.Str]++
			}
			if !e.TraceID.IsZero() && ls.badIDs[e.TraceID] {
				l.onBad++
				l.example = e.TraceID
			}
		}
		ls.mu.Lock()
		defer ls.mu.Unlock()
		ls.lines += len(evs)
		for svc, t := range first {
			if e, ok := ls.earliest[svc]; !ok || t < e {
				ls.earliest[svc] = t
			}
		}
		for k, l := range loc {
			p := ls.pats[k]
			if p == nil {
				p = &pattern{service: k.service, template: Template(l.first.Body), level: l.first.Level(), instances: map[string]int{}}
				ls.pats[k] = p
			}
			p.before += l.before
			p.during += l.during
			p.onBad += l.onBad
			for in, n := range l.inst {
				p.instances[in] += n
			}
			if p.example == "" && !l.example.IsZero() {
				p.example = l.example.String()
			}
		}
		return nil
	})
	if err != nil {
		r.warn("the logs of %s: %v", strings.Join(todo, ", "), err)
		ls.mu.Lock()
		ls.failed = true
		ls.mu.Unlock()
	}
}

// logFindings are the templates of the lines scanned whose count rose
// from before the onset to after it (the PoissonRise test), with those
// on the sampled bad traces counted.
func (r *run) logFindings(ls *logScan) []Finding {
	_, instances := r.implicated()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.failed {
		return nil
	}
	r.mu.Lock()
	r.res.Sampling.LogLines = ls.lines
	r.mu.Unlock()
	bStart, dStart, earliest, pats := ls.bStart, ls.dStart, ls.earliest, ls.pats
	span := r.req.End.Sub(dStart)
	type scored struct {
		p     *pattern
		score float64
	}
	var list []scored
	dD := span.Seconds()
	before := func(svc string) float64 {
		from := bStart
		if e := time.Unix(0, earliest[svc]); e.After(from) && e.Before(dStart) {
			from = e
		}
		return dStart.Sub(from).Seconds()
	}
	for _, p := range pats {
		dB := before(p.service)
		if p.during < 3 || float64(p.during)/dD < 2*float64(p.before)/dB {
			continue
		}
		llr := PoissonRise(p.before, p.during, dB, dD)
		s := logsWeight * (1 - math.Exp(-llr/100))
		// Lines of an implicated instance, or on the bad traces, count more.
		onBad := Proportion(p.onBad, p.during)
		s *= 0.75 + 0.25*max(onBad, instanceShare(p, instances))
		list = append(list, scored{p, s})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].score != list[j].score {
			return list[i].score > list[j].score
		}
		return list[i].p.service+list[i].p.template < list[j].p.service+list[j].p.template
	})
	var out []Finding
	for i, sc := range list {
		if i >= maxLogFindings || sc.score < 0.01 {
			break
		}
		p := sc.p
		dB := before(p.service)
		det := &LogDetails{Service: p.service, Pattern: p.template, Level: p.level, Before: p.before, During: p.during, OnBad: p.onBad,
			BeforeSeconds: dB, DuringSeconds: dD}
		top, share := topOf(p.instances)
		if share >= 0.8 && len(p.instances) > 0 {
			det.Instance = top
		}
		since := "since the onset"
		if !r.onsetOK {
			since = "in the window"
		}
		st := fmt.Sprintf("%s logs: `%s` %s → %s (%s before, %s %s)", p.service, p.template, fmtCount(p.before), fmtCount(p.during),
			fmtDuration(time.Duration(dB*1e9).Round(time.Second)), fmtDuration(time.Duration(dD*1e9).Round(time.Second)), since)
		if det.Instance != "" {
			st += ", from " + det.Instance
		}
		if p.onBad > 0 {
			st += fmt.Sprintf("; %s on %s", fmtCount(p.onBad), r.badNoun())
		}
		f := Finding{Kind: KindLogs, Score: clamp01(sc.score), Statement: st, Details: det}
		sel := fmt.Sprintf("{service_name=%s}", quote(p.service))
		if det.Instance != "" {
			sel = fmt.Sprintf("{service_name=%s, service_instance_id=%s}", quote(p.service), quote(det.Instance))
		}
		lq := sel
		if lit := longestLiteral(p.template); lit != "" {
			lq += " |= " + quote(lit)
		}
		f.Evidence = append(f.Evidence,
			explore("the lines", "logql", lq, bStart, r.req.End),
			explore("the lines per minute", "logql", "sum(count_over_time("+lq+" [1m]))", bStart, r.req.End))
		if p.example != "" {
			f.Evidence = append(f.Evidence, traceEvidence(p.example))
		}
		out = append(out, f)
	}
	return out
}

// instanceShare is the share of a pattern's lines from the implicated
// instances.
func instanceShare(p *pattern, instances []string) float64 {
	if p.during == 0 {
		return 0
	}
	n := 0
	for _, in := range instances {
		n += p.instances[in]
	}
	return Proportion(n, p.during)
}

// topOf is the key with the largest count and its share.
func topOf(m map[string]int) (string, float64) {
	var top string
	best, total := 0, 0
	for k, n := range m {
		total += n
		if n > best || n == best && k < top {
			top, best = k, n
		}
	}
	return top, Proportion(best, total)
}

// longestLiteral is the longest run of a template's words without <_>,
// for a line filter.
func longestLiteral(tmpl string) string {
	best := ""
	for _, part := range strings.Split(tmpl, variable) {
		if p := strings.TrimSpace(part); len(p) > len(best) {
			best = p
		}
	}
	return best
}
