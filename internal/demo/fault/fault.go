// Package fault is the demo shop's fault model: what can go wrong in a
// service (added latency, error answers, refused connections, an exhausted
// database pool, CPU burn, a slow query above an order size), where (a
// service, optionally one instance and one route), for which requests (a
// fraction, a match on request attributes, a minimum order size) and for how
// long. It has the spec language the flags and `horus demo fault add` read
// (Parse), the per-process Injector the shop's services consult, the admin
// HTTP API that switches faults at runtime (Handler, Client), and the named
// scenarios of docs/demo.md (Scenarios).
//
// The package knows nothing of the shop's services: a process creates one
// Injector for its service and instance and calls Before, Refusing,
// PoolExhausted and SlowQuery where each fault acts.
package fault

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind is what a fault does. Its text is the value of `kind=` in a spec and
// of "kind" in JSON.
type Kind string

// The kinds of fault.
const (
	// KindLatency delays matching requests by a log-normal sample of Latency.
	KindLatency Kind = "latency"
	// KindError answers matching requests with Status and Message.
	KindError Kind = "error"
	// KindRefuse makes the process close its listener: callers get
	// "connection refused" (ECONNREFUSED) until the fault ends.
	KindRefuse Kind = "refuse_connections"
	// KindPoolExhaustion makes the process hold every connection of its
	// database pool, so requests wait for one and then time out.
	KindPoolExhaustion Kind = "pool_exhaustion"
	// KindCPUBurn spins CPU cores in the process (CPU of them).
	KindCPUBurn Kind = "cpu_burn"
	// KindSlowQuery makes the process run its slow query variant for orders
	// of Scope.MinItems items or more.
	KindSlowQuery Kind = "slow_query"
)

// Kinds lists every kind, in the order docs/demo.md describes them.
func Kinds() []Kind {
	return []Kind{KindLatency, KindError, KindRefuse, KindPoolExhaustion, KindCPUBurn, KindSlowQuery}
}

// perRequest reports whether the kind acts on single requests (and so takes
// a route, a match and a fraction) rather than on the whole process.
func (k Kind) perRequest() bool { return k == KindLatency || k == KindError }

// Attribute names of Request.Attrs that Scope.Match is usually written
// against. Any other name works if the service sets it.
const (
	AttrTenant        = "tenant"         // the customer's tenant, e.g. "acme"
	AttrUser          = "user_id"        // the user placing the order
	AttrPaymentMethod = "payment_method" // "card", "paypal", "bank_transfer", ...
)

// Limits on a fault's values.
const (
	// MaxLatency bounds a latency fault's median and p99, and every sample.
	MaxLatency = 10 * time.Minute
	// MaxCPU bounds a cpu_burn fault's cores; the Injector further burns at
	// most runtime.NumCPU() cores in all.
	MaxCPU = 64
	// MaxMatch bounds the attributes of Scope.Match.
	MaxMatch = 16
	maxText  = 1024 // bytes of a route, a message, a version or a match value
)

// Target is where a fault acts: a service (its service.name), optionally one
// of its instances and one of its routes.
type Target struct {
	// Service is the service.name of the processes that apply the fault
	// ("payments"). Required.
	Service string
	// Instance is the instance number given to the process (`--instance
	// N`, "1" for the first); "" is every instance of Service.
	Instance string
	// Route is the net/http ServeMux pattern of the requests affected
	// ("POST /pay"), as r.Pattern holds it; a route without a method
	// ("/pay") matches that path with any method. "" is every route. Only
	// for the kinds that act per request (latency, error).
	Route string
}

// Selects reports whether a process of service and instance applies faults
// aimed at t. The demo's parent uses it to pick the children a fault is
// forwarded to.
func (t Target) Selects(service, instance string) bool {
	return t.Service == service && (t.Instance == "" || t.Instance == instance)
}

// Scope narrows a fault to some of the requests its target receives.
type Scope struct {
	// Fraction is the probability that a matching request is affected,
	// sampled per request, in (0, 1]; 0 means 1 (every request). Not for
	// refuse_connections, pool_exhaustion and cpu_burn, which act on the
	// whole process.
	Fraction float64
	// Match holds request attributes that must all be equal (see AttrTenant
	// and the other Attr names); nil or empty matches every request. Only
	// for latency and error faults.
	Match map[string]string
	// MinItems, when positive, limits the fault to orders of at least that
	// many items (Request.Items, or SlowQuery's items). For latency, error
	// and slow_query faults.
	MinItems int
}

// Latency is a log-normal distribution of added delay given by its median
// and 99th percentile: ln(delay) is normal with mean ln(Median) and standard
// deviation ln(P99/Median)/z₀.₉₉, where z₀.₉₉ ≈ 2.326 is the standard normal
// 99th percentile. Request latencies are commonly modelled as log-normal:
// skewed right, never negative.
type Latency struct {
	// Median is the 50th percentile of the delay; required for latency
	// faults, at most MaxLatency.
	Median time.Duration
	// P99 is the 99th percentile, at least Median and at most MaxLatency;
	// 0 (or Median) makes every delay exactly Median.
	P99 time.Duration
}

// z99 is the 99th percentile of the standard normal distribution.
const z99 = 2.3263478740408408

// Sigma returns the standard deviation of ln(delay): ln(P99/Median)/z₀.₉₉,
// 0 when P99 is not above Median.
func (l Latency) Sigma() float64 {
	if l.P99 <= l.Median || l.Median <= 0 {
		return 0
	}
	return math.Log(float64(l.P99)/float64(l.Median)) / z99
}

// Cap returns the largest delay Sample returns: four times P99 (about the
// 99.99th percentile when P99 is ten times the median) and at most
// MaxLatency, so one unlucky sample cannot hold a request for hours.
func (l Latency) Cap() time.Duration {
	c := max(l.P99, l.Median)
	if c > MaxLatency/4 {
		return MaxLatency
	}
	return 4 * c
}

// Sample draws one delay with r's normal source (r nil: the global
// math/rand/v2 source), capped at Cap. A zero Median gives 0.
func (l Latency) Sample(r *mrand.Rand) time.Duration {
	if l.Median <= 0 {
		return 0
	}
	s := l.Sigma()
	if s == 0 {
		return l.Median
	}
	var n float64
	if r != nil {
		n = r.NormFloat64()
	} else {
		n = mrand.NormFloat64()
	}
	d := float64(l.Median) * math.Exp(s*n)
	if c := l.Cap(); d > float64(c) {
		return c
	}
	return time.Duration(d)
}

// Fault is one fault: a kind, where it acts, on which requests, for how long,
// and the kind's parameters. The zero values of the optional fields are the
// defaults named on each.
type Fault struct {
	// ID names the fault for removal; Injector.Add assigns one (NewID) when
	// empty, and an Add with an ID already present replaces that fault.
	// Letters, digits, '.', '_' and '-', at most 64.
	ID     string
	Kind   Kind
	Target Target
	Scope  Scope
	// Duration is how long the fault lasts from the moment it is added; 0
	// is until it is removed.
	Duration time.Duration
	// Expires is when the fault ends, set by Injector.Add from Duration
	// (zero: never). It is ignored by Add, and not part of the spec.
	Expires time.Time
	// Latency is the delay distribution of a latency fault.
	Latency Latency
	// Status is an error fault's HTTP status, 400 to 599; 0 means 500.
	Status int
	// Message is an error fault's answer text; "" means the status text.
	Message string
	// CPU is how many cores a cpu_burn fault keeps busy, in (0, MaxCPU];
	// 0 means 1. A fraction burns the last core part of the time.
	CPU float64
	// Version is the service.version of the deploy that brought the fault,
	// if any (scenarios set it; it is only reported).
	Version string
}

// EffectiveStatus is the status an error fault answers: Status, or 500.
func (f Fault) EffectiveStatus() int {
	if f.Status == 0 {
		return http.StatusInternalServerError
	}
	return f.Status
}

// EffectiveMessage is the text an error fault answers: Message, or the
// status text of EffectiveStatus.
func (f Fault) EffectiveMessage() string {
	if f.Message != "" {
		return f.Message
	}
	if t := http.StatusText(f.EffectiveStatus()); t != "" {
		return t
	}
	return fmt.Sprintf("status %d", f.EffectiveStatus())
}

// EffectiveCPU is the cores a cpu_burn fault burns: CPU, or 1.
func (f Fault) EffectiveCPU() float64 {
	if f.CPU == 0 {
		return 1
	}
	return f.CPU
}

// Clone returns f with its own copy of Scope.Match.
func (f Fault) Clone() Fault {
	if f.Scope.Match != nil {
		m := make(map[string]string, len(f.Scope.Match))
		for k, v := range f.Scope.Match {
			m[k] = v
		}
		f.Scope.Match = m
	}
	return f
}

var (
	idRE   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	attrRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]{0,127}$`)
)

// NewID returns a random fault ID: 10 lower-case base32 characters (50
// bits), safe in a URL path and in a spec without quoting.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:10]
}

// Validate checks f and returns an error naming the first problem: an
// unknown kind, a missing or malformed service, a field the kind does not
// take (a route on a cpu_burn fault...), a fraction outside (0, 1], a
// latency without a median or with p99 below it, a status outside 400-599,
// a negative duration or item count, control characters or invalid UTF-8 in
// a text. With services given, Target.Service must be one of them.
func (f Fault) Validate(services ...string) error {
	if f.ID != "" && !idRE.MatchString(f.ID) {
		return fmt.Errorf("id %q: use 1 to 64 letters, digits, '.', '_' or '-'", f.ID)
	}
	if f.Kind == "" {
		return fmt.Errorf("kind is required (one of %s)", kindList())
	}
	if !slices.Contains(Kinds(), f.Kind) {
		return fmt.Errorf("unknown kind %q (one of %s)", string(f.Kind), kindList())
	}
	if err := f.Target.validate(services); err != nil {
		return err
	}
	if err := f.validateScope(); err != nil {
		return err
	}
	if f.Duration < 0 {
		return fmt.Errorf("for=%s: a duration cannot be negative (0 lasts until removed)", f.Duration)
	}
	if err := f.validateParams(); err != nil {
		return err
	}
	return checkText("version", f.Version)
}

func (t Target) validate(services []string) error {
	if t.Service == "" {
		return errors.New("service is required (the service.name the fault acts in)")
	}
	if !nameRE.MatchString(t.Service) {
		return fmt.Errorf("service %q: use letters, digits, '.', '_' or '-'", t.Service)
	}
	if len(services) > 0 && !slices.Contains(services, t.Service) {
		return fmt.Errorf("unknown service %q (one of %s)", t.Service, strings.Join(services, ", "))
	}
	if t.Instance != "" && !nameRE.MatchString(t.Instance) {
		return fmt.Errorf("instance %q: use letters, digits, '.', '_' or '-' (the instance number, e.g. 2)", t.Instance)
	}
	return checkText("route", t.Route)
}

func (f Fault) validateScope() error {
	s, k := f.Scope, f.Kind
	if f.Target.Route != "" && !k.perRequest() {
		return fmt.Errorf("route applies only to kinds latency and error, not %s (which acts on the whole process)", k)
	}
	if s.Fraction != 0 {
		if !(s.Fraction > 0 && s.Fraction <= 1) { // also refuses NaN
			return fmt.Errorf("fraction=%v: must be in (0, 1] (a probability; leave it out for every request)", s.Fraction)
		}
		if !k.perRequest() && k != KindSlowQuery {
			return fmt.Errorf("fraction applies only to kinds latency, error and slow_query, not %s", k)
		}
	}
	if len(s.Match) > 0 && !k.perRequest() {
		return fmt.Errorf("match applies only to kinds latency and error, not %s", k)
	}
	if len(s.Match) > MaxMatch {
		return fmt.Errorf("match has %d attributes, at most %d", len(s.Match), MaxMatch)
	}
	for _, key := range sortedKeys(s.Match) {
		if !attrRE.MatchString(key) {
			return fmt.Errorf("match attribute name %q: use a letter or '_', then letters, digits, '_' or '.'", key)
		}
		v := s.Match[key]
		if v == "" {
			return fmt.Errorf("match %s: the value is empty", key)
		}
		if strings.Contains(v, ",") {
			return fmt.Errorf("match %s:%q: a value cannot contain ','", key, v)
		}
		if err := checkText("match "+key, v); err != nil {
			return err
		}
	}
	if s.MinItems < 0 {
		return fmt.Errorf("min_items=%d: cannot be negative", s.MinItems)
	}
	if s.MinItems > 0 && !k.perRequest() && k != KindSlowQuery {
		return fmt.Errorf("min_items applies only to kinds latency, error and slow_query, not %s", k)
	}
	return nil
}

func (f Fault) validateParams() error {
	k := f.Kind
	if k != KindLatency && (f.Latency != Latency{}) {
		return fmt.Errorf("median and p99 apply only to kind latency, not %s", k)
	}
	if k != KindError && (f.Status != 0 || f.Message != "") {
		return fmt.Errorf("status and message apply only to kind error, not %s", k)
	}
	if k != KindCPUBurn && f.CPU != 0 {
		return fmt.Errorf("cpu applies only to kind cpu_burn, not %s", k)
	}
	switch k {
	case KindLatency:
		l := f.Latency
		if l.Median <= 0 {
			return errors.New("a latency fault needs median > 0 (e.g. median=200ms p99=2s)")
		}
		if l.Median > MaxLatency || l.P99 > MaxLatency {
			return fmt.Errorf("median=%s p99=%s: at most %s", l.Median, l.P99, MaxLatency)
		}
		if l.P99 != 0 && l.P99 < l.Median {
			return fmt.Errorf("p99=%s is below median=%s: the 99th percentile cannot be below the 50th", l.P99, l.Median)
		}
	case KindError:
		if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
			return fmt.Errorf("status=%d: an error fault answers a 4xx or 5xx status", f.Status)
		}
		return checkText("message", f.Message)
	case KindCPUBurn:
		if f.CPU != 0 && !(f.CPU > 0 && f.CPU <= MaxCPU) {
			return fmt.Errorf("cpu=%v: cores to burn, in (0, %d]", f.CPU, MaxCPU)
		}
	}
	return nil
}

// checkText refuses invalid UTF-8, control characters and texts over
// maxText bytes in the field named.
func checkText(field, s string) error {
	if len(s) > maxText {
		return fmt.Errorf("%s is %d bytes, at most %d", field, len(s), maxText)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return fmt.Errorf("%s has a control character at byte %d", field, i)
	}
	return nil
}

func kindList() string {
	var b strings.Builder
	for i, k := range Kinds() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(k))
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// StatusError is what Injector.Before returns for an error fault: the
// status and message the handler should answer.
type StatusError struct {
	Status  int    // HTTP status, 400 to 599
	Message string // answer text
	FaultID string // the fault that answered
}

// Error implements error: "injected fault <id>: <status> <message>".
func (e *StatusError) Error() string {
	return fmt.Sprintf("injected fault %s: %d %s", e.FaultID, e.Status, e.Message)
}

// Request is what Injector.Before knows of a request.
type Request struct {
	// Route is the ServeMux pattern that matched (r.Pattern), e.g.
	// "POST /pay".
	Route string
	// Attrs are attributes Scope.Match compares (AttrTenant, ...).
	Attrs map[string]string
	// Items is the order's item count, 0 when the request has none.
	Items int
}

// wire is a Fault's JSON form: flat, snake_case, the keys of the spec
// language, durations as Go duration strings.
type wire struct {
	ID       string            `json:"id,omitempty"`
	Kind     Kind              `json:"kind"`
	Service  string            `json:"service"`
	Instance string            `json:"instance,omitempty"`
	Route    string            `json:"route,omitempty"`
	Fraction float64           `json:"fraction,omitempty"`
	Match    map[string]string `json:"match,omitempty"`
	MinItems int               `json:"min_items,omitempty"`
	Duration string            `json:"duration,omitempty"`
	Expires  *time.Time        `json:"expires,omitempty"`
	Median   string            `json:"median,omitempty"`
	P99      string            `json:"p99,omitempty"`
	Status   int               `json:"status,omitempty"`
	Message  string            `json:"message,omitempty"`
	CPU      float64           `json:"cpu,omitempty"`
	Version  string            `json:"version,omitempty"`
}

// MarshalJSON writes f flat with snake_case keys (id, kind, service,
// instance, route, fraction, match, min_items, duration, expires, median,
// p99, status, message, cpu, version), durations as Go duration strings
// ("200ms"), zero values left out.
func (f Fault) MarshalJSON() ([]byte, error) {
	w := wire{
		ID: f.ID, Kind: f.Kind, Service: f.Target.Service, Instance: f.Target.Instance, Route: f.Target.Route,
		Fraction: f.Scope.Fraction, Match: f.Scope.Match, MinItems: f.Scope.MinItems,
		Duration: durText(f.Duration), Median: durText(f.Latency.Median), P99: durText(f.Latency.P99),
		Status: f.Status, Message: f.Message, CPU: f.CPU, Version: f.Version,
	}
	if !f.Expires.IsZero() {
		e := f.Expires.UTC()
		w.Expires = &e
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads MarshalJSON's form; an unknown key is an error that
// names it. Durations are Go duration strings. It does not validate.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var w wire
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	var g Fault
	g.ID, g.Kind, g.Version = w.ID, w.Kind, w.Version
	g.Target = Target{Service: w.Service, Instance: w.Instance, Route: w.Route}
	g.Scope = Scope{Fraction: w.Fraction, Match: w.Match, MinItems: w.MinItems}
	g.Status, g.Message, g.CPU = w.Status, w.Message, w.CPU
	var err error
	if g.Duration, err = parseDur("duration", w.Duration); err != nil {
		return err
	}
	if g.Latency.Median, err = parseDur("median", w.Median); err != nil {
		return err
	}
	if g.Latency.P99, err = parseDur("p99", w.P99); err != nil {
		return err
	}
	if w.Expires != nil {
		g.Expires = *w.Expires
	}
	*f = g
	return nil
}

func durText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func parseDur(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not a duration (e.g. 250ms, 2s, 10m)", field, s)
	}
	return d, nil
}
