// Package load is the demo shop's traffic: shoppers of skewed tenants
// checking out orders of heavy-tailed sizes with a mix of payment methods,
// and looking their orders up, at a rate that follows a day's shape
// compressed into a configurable length. Requests are real HTTP to the
// api-gateway, open-loop (arrivals do not wait for answers, as real users
// do not) with a bound on the requests in flight.
package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/horus-obs/horus/internal/demo/shop"
)

// Options configure a Generator. The zero value of each field is the
// default named on it.
type Options struct {
	// Rate is the peak rate of checkouts per second, reached at the day's
	// busiest hour; the actual rate is Rate × DayShape(hour). Order
	// lookups come on top (LookupShare of the checkouts). 0 sends nothing
	// until SetRate.
	Rate float64
	// DayLength is how long a demo day lasts in real time (default 1h).
	DayLength time.Duration
	// StartHour is the demo clock's hour at start (default 9: the morning
	// ramp, so traffic grows during the first minutes).
	StartHour float64
	// Concurrency bounds the requests in flight (default 32); an arrival
	// beyond it is counted as skipped, not queued.
	Concurrency int
	// Users is the number of distinct shoppers (default 5000).
	Users int
	// Seed makes the traffic reproducible; 0 draws one.
	Seed uint64
	// Timeout bounds one request (default 30s).
	Timeout time.Duration
	// Logger receives the generator's own warnings (default: discarded).
	Logger *slog.Logger
}

// LookupShare is the number of order lookups (GET /api/orders/{id}) per
// checkout.
const LookupShare = 0.3

// StrangerShare is the share of lookups made by another user than the
// order's (a shared link, a guessed id): answered 404, as another tenant's
// order is.
const StrangerShare = 0.05

// MaxItems caps an order's item count.
const MaxItems = 400

// Tenants are the shop's customer companies, most active first: tenant
// activity follows a Zipf law over this order.
var Tenants = []string{"acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka",
	"tyrell", "cyberdyne", "soylent", "aperture", "oscorp", "vandelay", "dunder", "piedpiper"}

// Result is one request the generator made.
type Result struct {
	Time     time.Time `json:"time"`
	Route    string    `json:"route"`              // "POST /api/orders", "GET /api/orders/{id}"
	Status   int       `json:"status"`             // HTTP status; 0 when no answer came
	TraceID  string    `json:"trace_id,omitempty"` // from the gateway's traceresponse header
	OrderID  string    `json:"order_id,omitempty"`
	Tenant   string    `json:"tenant"`
	UserID   string    `json:"user_id"`
	Items    int       `json:"items,omitempty"`
	Method   string    `json:"payment_method,omitempty"`
	Error    string    `json:"error,omitempty"`
	Duration float64   `json:"duration_seconds"`
}

// Stats count the generator's requests since it started.
type Stats struct {
	Rate      float64          `json:"rate"`       // the peak rate set, checkouts/s
	Current   float64          `json:"current"`    // the rate now, after the day's shape
	DayHour   float64          `json:"day_hour"`   // the demo clock's hour
	Sent      int64            `json:"sent"`       // requests sent
	Skipped   int64            `json:"skipped"`    // arrivals dropped at the concurrency bound
	InFlight  int64            `json:"in_flight"`  // requests not answered yet
	ByStatus  map[string]int64 `json:"by_status"`  // "2xx", "4xx", "5xx", "error"
	LastTrace string           `json:"last_trace"` // the newest trace id seen
	Recent    []Result         `json:"recent"`     // the newest results, newest last
}

// recentKept is how many results Recent keeps.
const recentKept = 50

// Generator sends the shop's traffic to one api-gateway.
type Generator struct {
	gateway  string // base URL
	opts     Options
	client   *http.Client
	clock    Clock
	users    []user
	byTenant map[string][]int // indexes in users
	tenantZ  *zipf
	userZ    *zipf
	prodZ    *zipf

	rate     atomic.Uint64 // math.Float64bits of the peak rate
	sent     atomic.Int64
	skipped  atomic.Int64
	inFlight atomic.Int64
	sem      chan struct{}
	wg       sync.WaitGroup

	mu       sync.Mutex
	rng      *rand.Rand
	byStatus map[string]int64
	recent   []Result
	orders   []placed // recent orders, for lookups
}

// placed is an order the generator placed, and by whom.
type placed struct {
	id   string
	user int // index in users
}

type user struct {
	id, tenant, token string
}

// New makes a generator for the api-gateway at gatewayURL
// ("http://127.0.0.1:8080"). Run starts it.
func New(gatewayURL string, opts Options) *Generator {
	if opts.DayLength <= 0 {
		opts.DayLength = time.Hour
	}
	if opts.StartHour == 0 {
		opts.StartHour = 9
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 32
	}
	if opts.Users <= 0 {
		opts.Users = 5000
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	g := &Generator{
		gateway: strings.TrimRight(gatewayURL, "/"),
		opts:    opts,
		client: &http.Client{Timeout: opts.Timeout, Transport: &http.Transport{
			MaxIdleConnsPerHost: opts.Concurrency, IdleConnTimeout: time.Minute,
		}},
		tenantZ:  newZipf(len(Tenants), 1.1),
		userZ:    newZipf(opts.Users, 1.05),
		prodZ:    newZipf(shop.CatalogSize, 1.0),
		sem:      make(chan struct{}, opts.Concurrency),
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		byStatus: map[string]int64{},
	}
	// Each user belongs to one tenant, drawn by tenant activity, so the
	// busiest tenants also have the most users.
	g.users = make([]user, opts.Users)
	g.byTenant = map[string][]int{}
	for i := range g.users {
		t := Tenants[g.tenantZ.draw(g.rng)]
		id := fmt.Sprintf("u-%05d", i+1)
		g.users[i] = user{id: id, tenant: t, token: shop.Token(id, t)}
		g.byTenant[t] = append(g.byTenant[t], i)
	}
	g.SetRate(opts.Rate)
	g.clock = Clock{Start: time.Now(), DayLength: opts.DayLength, StartHour: opts.StartHour}
	return g
}

// SetRate changes the peak rate (checkouts per second); 0 pauses the
// traffic. Negative rates are taken as 0.
func (g *Generator) SetRate(r float64) {
	if !(r > 0) {
		r = 0
	}
	g.rate.Store(math.Float64bits(r))
}

// Rate is the peak rate set.
func (g *Generator) Rate() float64 { return math.Float64frombits(g.rate.Load()) }

// Run sends traffic until ctx ends, then waits for the requests in flight.
// Arrivals are a Poisson process whose rate follows the day's shape, the
// demo clock starting (at StartHour) when New made the generator.
func (g *Generator) Run(ctx context.Context) {
	defer g.wg.Wait()
	const idle = 200 * time.Millisecond // re-check of a paused rate
	for {
		rate := g.current(time.Now()) * (1 + LookupShare)
		wait := idle
		if rate > 0 {
			g.mu.Lock()
			wait = time.Duration(g.rng.ExpFloat64() / rate * float64(time.Second))
			g.mu.Unlock()
			wait = min(wait, idle*5)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if rate <= 0 || g.current(time.Now()) <= 0 {
			continue
		}
		select {
		case g.sem <- struct{}{}:
		default:
			g.skipped.Add(1)
			continue
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			defer func() { <-g.sem }()
			g.one(ctx)
		}()
	}
}

// current is the checkout rate at t: the peak rate times the day's shape.
func (g *Generator) current(t time.Time) float64 {
	return g.Rate() * DayShape(g.clock.Hour(t))
}

// one sends one request: a lookup of a recent order LookupShare/(1+
// LookupShare) of the time, else a checkout.
func (g *Generator) one(ctx context.Context) {
	g.mu.Lock()
	lookup := len(g.orders) > 0 && g.rng.Float64() < LookupShare/(1+LookupShare)
	var o placed
	if lookup {
		o = g.orders[g.rng.IntN(len(g.orders))]
		if g.rng.Float64() < StrangerShare {
			o.user = g.userZ.draw(g.rng)
		}
	}
	g.mu.Unlock()
	if lookup {
		g.record(g.lookup(ctx, o), -1)
		return
	}
	r, user := g.checkout(ctx, CheckoutOptions{})
	g.record(r, user)
}

// CheckoutOptions fix parts of a checkout; the zero value of each is drawn
// as the load draws it.
type CheckoutOptions struct {
	// Items is the order's item count, 1 to shop.MaxOrderItems.
	Items int
	// PaymentMethod is one of shop.PaymentMethods.
	PaymentMethod string
	// Tenant is one of Tenants: the shopper is one of its users.
	Tenant string
}

// Checkout places one order as a random shopper and returns its result.
func (g *Generator) Checkout(ctx context.Context, o CheckoutOptions) Result {
	r, _ := g.checkout(ctx, o)
	return r
}

// checkout is Checkout, also returning the shopper's index.
func (g *Generator) checkout(ctx context.Context, o CheckoutOptions) (Result, int) {
	g.mu.Lock()
	ui := g.userZ.draw(g.rng)
	if us := g.byTenant[o.Tenant]; len(us) > 0 {
		ui = us[g.rng.IntN(len(us))]
	}
	u := g.users[ui]
	n := o.Items
	if n <= 0 {
		n = OrderSize(g.rng, MaxItems)
	}
	n = min(n, shop.MaxOrderItems, shop.CatalogSize)
	items := make([]shop.OrderItem, 0, n)
	seen := map[int]bool{}
	for len(items) < n {
		p := g.prodZ.draw(g.rng) + 1
		if seen[p] {
			continue
		}
		seen[p] = true
		items = append(items, shop.OrderItem{ProductID: p, Quantity: 1 + g.rng.IntN(3)*g.rng.IntN(2)})
	}
	method := o.PaymentMethod
	if method == "" {
		method = paymentMethod(g.rng)
	}
	g.mu.Unlock()
	body, _ := json.Marshal(shop.CheckoutRequest{Items: items, PaymentMethod: method})
	res := Result{Route: "POST /api/orders", Tenant: u.tenant, UserID: u.id, Items: n, Method: method}
	var out shop.CheckoutResponse
	g.do(ctx, http.MethodPost, "/api/orders", u, body, &res, &out)
	res.OrderID = out.OrderID
	return res, ui
}

// lookup fetches an order as the user of o.
func (g *Generator) lookup(ctx context.Context, o placed) Result {
	u := g.users[o.user]
	res := Result{Route: "GET /api/orders/{id}", Tenant: u.tenant, UserID: u.id, OrderID: o.id}
	g.do(ctx, http.MethodGet, "/api/orders/"+o.id, u, nil, &res, nil)
	return res
}

// maxAnswer bounds the answer body read.
const maxAnswer = 1 << 20

func (g *Generator) do(ctx context.Context, method, path string, u user, body []byte, res *Result, out any) {
	g.sent.Add(1)
	g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	start := time.Now()
	res.Time = start
	defer func() { res.Duration = time.Since(start).Seconds() }()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.gateway+path, rd)
	if err != nil {
		res.Error = err.Error()
		return
	}
	req.Header.Set("Authorization", "Bearer "+u.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.client.Do(req)
	if err != nil {
		res.Error = err.Error()
		return
	}
	defer func() { _ = resp.Body.Close() }()
	res.Status = resp.StatusCode
	res.TraceID = TraceIDFromResponse(resp.Header)
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if out != nil && (resp.StatusCode < 300 || resp.StatusCode == http.StatusPaymentRequired) {
		_ = json.Unmarshal(b, out)
	}
	if resp.StatusCode >= 400 {
		res.Error = strings.TrimSpace(string(b))
	}
}

// TraceIDFromResponse reads the trace id of the W3C Trace Context Level 2
// traceresponse header ("00-<trace id>-<span id>-<flags>"), which the
// api-gateway answers with; "" when it is missing or malformed.
func TraceIDFromResponse(h http.Header) string {
	parts := strings.Split(h.Get("Traceresponse"), "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return ""
	}
	return parts[1]
}

// record counts r; user is the shopper's index of a checkout, -1 for a
// lookup.
func (g *Generator) record(r Result, user int) {
	class := "error"
	if r.Status > 0 {
		class = strconv.Itoa(r.Status/100) + "xx"
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.byStatus[class]++
	g.recent = append(g.recent, r)
	if len(g.recent) > recentKept {
		g.recent = g.recent[len(g.recent)-recentKept:]
	}
	if r.OrderID != "" && user >= 0 {
		g.orders = append(g.orders, placed{id: r.OrderID, user: user})
		if len(g.orders) > 1000 {
			g.orders = g.orders[len(g.orders)-1000:]
		}
	}
}

// Record adds a result made outside Run (a Checkout the caller sent) to
// the statistics and the recent results.
func (g *Generator) Record(r Result) { g.record(r, -1) }

// Stats returns the counts so far and the recent results.
func (g *Generator) Stats() Stats {
	now := time.Now()
	st := Stats{Rate: g.Rate(), Sent: g.sent.Load(), Skipped: g.skipped.Load(), InFlight: g.inFlight.Load(),
		DayHour: g.clock.Hour(now), Current: g.current(now)}
	g.mu.Lock()
	defer g.mu.Unlock()
	st.ByStatus = make(map[string]int64, len(g.byStatus))
	for k, v := range g.byStatus {
		st.ByStatus[k] = v
	}
	st.Recent = append([]Result(nil), g.recent...)
	for i := len(g.recent) - 1; i >= 0; i-- {
		if g.recent[i].TraceID != "" {
			st.LastTrace = g.recent[i].TraceID
			break
		}
	}
	return st
}
