// Package eventgen generates realistic logs and spans with a fixed seed, for
// the event store's benchmarks and load runs.
//
// A generated request is a trace through a small shop: api-gateway calls
// orders, which reads its database, calls inventory and payments, and
// payments calls an external bank API. Each span carries the attributes an
// OpenTelemetry-instrumented service sets (http.request.method, http.route,
// http.response.status_code, db.system, db.statement, server.address, ...).
// Each span logs a few lines, as a JSON app logger would: level, service,
// version, environment, host, trace_id, span_id, user_id, caller, a message
// made from a template and variables; errors come with a stack trace.
package eventgen

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/horus-obs/horus/internal/store/events"
)

// Generator makes traces and their logs. It is not safe for concurrent use.
type Generator struct {
	rng   *rand.Rand
	now   int64 // ns
	step  int64 // ns between requests
	res   map[string]events.Attrs
	hosts map[string][]string
	users []string
}

// New returns a generator whose first request starts at start and whose
// requests are step apart. The same seed gives the same data.
func New(seed uint64, start time.Time, step time.Duration) *Generator {
	g := &Generator{
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now:   start.UnixNano(),
		step:  int64(step),
		res:   map[string]events.Attrs{},
		hosts: map[string][]string{},
	}
	for _, s := range services {
		for i := 0; i < 3; i++ {
			g.hosts[s.name] = append(g.hosts[s.name], fmt.Sprintf("%s-%x-%d", s.name, g.rng.Uint32()&0xfffff, i))
		}
	}
	for i := 0; i < 20000; i++ {
		g.users = append(g.users, "u-"+strconv.Itoa(100000+g.rng.IntN(900000)))
	}
	return g
}

type service struct{ name, version, lang string }

var services = []service{
	{"api-gateway", "2.14.1", "go"},
	{"orders", "1.31.0", "go"},
	{"inventory", "0.9.7", "java"},
	{"payments", "3.2.4", "go"},
}

func (g *Generator) resource(svc, host string) events.Attrs {
	key := svc + "/" + host
	if r, ok := g.res[key]; ok {
		return r
	}
	var s service
	for _, x := range services {
		if x.name == svc {
			s = x
		}
	}
	r := events.Attrs{
		{Key: "service.name", Value: events.Str(s.name)},
		{Key: "service.version", Value: events.Str(s.version)},
		{Key: "deployment.environment.name", Value: events.Str("prod")},
		{Key: "host.name", Value: events.Str(host)},
		{Key: "k8s.namespace.name", Value: events.Str("shop")},
		{Key: "telemetry.sdk.language", Value: events.Str(s.lang)},
	}
	g.res[key] = r
	return r
}

// Request is one generated request: its spans and log lines.
type Request struct {
	Spans []events.Event
	Logs  []events.Event
}

// Next generates the next request.
func (g *Generator) Next() Request {
	// The spans are filled in through pointers into r.Spans after later
	// spans are added: the capacity must hold every span of a request so
	// that no append moves them (span panics otherwise).
	r := Request{Spans: make([]events.Event, 0, maxSpans)}
	var tid events.TraceID
	g.fill(tid[:])
	start := g.now + g.rng.Int64N(g.step+1)
	g.now += g.step
	user := g.users[int(g.rng.ExpFloat64()*2000)%len(g.users)]
	failing := g.rng.IntN(50) == 0 // 2% of requests fail at the bank
	slow := g.rng.IntN(200) == 0

	routes := []string{"/api/orders", "/api/orders/{id}", "/api/cart", "/api/products/{id}"}
	route := routes[g.rng.IntN(len(routes))]
	method := "GET"
	if route == "/api/orders" || route == "/api/cart" {
		method = "POST"
	}
	orderID := "o-" + strconv.Itoa(1000000+g.rng.IntN(9000000))
	amount := g.rng.IntN(50000) + 99

	gwHost := g.host("api-gateway")
	root := g.span(&r, tid, events.SpanID{}, "api-gateway", gwHost, method+" "+route, 2, start, 0)
	ordHost := g.host("orders")
	orders := g.span(&r, tid, root.SpanID, "orders", ordHost, method+" "+route, 2, start+int64(300*time.Microsecond), 0)
	t := orders.Time + int64(200*time.Microsecond)
	db := g.span(&r, tid, orders.SpanID, "orders", ordHost, "SELECT shop.orders", 3, t, g.dur(2*time.Millisecond))
	db.Attrs = append(db.Attrs,
		events.Attr{Key: "db.system", Value: events.Str("postgresql")},
		events.Attr{Key: "db.namespace", Value: events.Str("shop")},
		events.Attr{Key: "db.query.text", Value: events.Str("SELECT id, status, total FROM orders WHERE user_id = $1 AND id = $2")},
		events.Attr{Key: "server.address", Value: events.Str("postgres.shop.svc")},
	)
	t = db.End()
	invHost := g.host("inventory")
	invC := g.span(&r, tid, orders.SpanID, "orders", ordHost, "GET /stock/{sku}", 3, t, 0)
	inv := g.span(&r, tid, invC.SpanID, "inventory", invHost, "GET /stock/{sku}", 2, t+int64(150*time.Microsecond), g.dur(4*time.Millisecond))
	invC.Duration = inv.End() - invC.Time + int64(100*time.Microsecond)
	g.httpAttrs(inv, "GET", "/stock/{sku}", 200)
	g.httpAttrs(invC, "GET", "/stock/{sku}", 200)
	t = invC.End()
	var payEnd int64
	status := 200
	if method == "POST" {
		payHost := g.host("payments")
		payC := g.span(&r, tid, orders.SpanID, "orders", ordHost, "POST /charge", 3, t, 0)
		pay := g.span(&r, tid, payC.SpanID, "payments", payHost, "POST /charge", 2, t+int64(200*time.Microsecond), 0)
		bankDur := g.dur(40 * time.Millisecond)
		if slow {
			bankDur += int64(2 * time.Second)
		}
		bank := g.span(&r, tid, pay.SpanID, "payments", payHost, "POST", 3, pay.Time+int64(500*time.Microsecond), bankDur)
		bankStatus := 200
		if failing {
			bankStatus, status = 503, 502
			bank.StatusCode, pay.StatusCode, payC.StatusCode = 2, 2, 2
			bank.StatusMessage = "503 Service Unavailable"
			pay.StatusMessage = "bank declined: upstream unavailable"
			bank.Events = append(bank.Events, events.SpanEvent{Time: bank.End(), Name: "exception", Attrs: events.Attrs{
				{Key: "exception.type", Value: events.Str("*url.Error")},
				{Key: "exception.message", Value: events.Str("POST https://api.bank.example/v2/charges: 503 Service Unavailable")},
			}})
		}
		g.httpAttrs(bank, "POST", "", bankStatus)
		bank.Attrs = append(bank.Attrs,
			events.Attr{Key: "server.address", Value: events.Str("api.bank.example")},
			events.Attr{Key: "url.full", Value: events.Str("https://api.bank.example/v2/charges")})
		pay.Duration = bank.End() - pay.Time + int64(300*time.Microsecond)
		payC.Duration = pay.End() - payC.Time + int64(200*time.Microsecond)
		g.httpAttrs(pay, "POST", "/charge", status)
		g.httpAttrs(payC, "POST", "/charge", status)
		payEnd = payC.End()
		if failing {
			g.log(&r, pay, 17, "payments/charge.go:88", fmt.Sprintf("charge failed for order %s: bank returned 503 after %dms", orderID, bankDur/1e6), user, g.stack())
		} else {
			g.log(&r, pay, 9, "payments/charge.go:102", fmt.Sprintf("charge authorized for order %s amount=%d.%02d EUR", orderID, amount/100, amount%100), user, "")
		}
		t = payEnd
	}
	orders.Duration = t - orders.Time + int64(g.rng.IntN(500))*1000
	root.Duration = orders.End() - root.Time + int64(400*time.Microsecond)
	g.httpAttrs(orders, method, route, status)
	g.httpAttrs(root, method, route, status)
	if status >= 500 {
		root.StatusCode, orders.StatusCode = 2, 2
	}
	root.Attrs = append(root.Attrs, events.Attr{Key: "enduser.id", Value: events.Str(user)})

	g.log(&r, root, 9, "gateway/proxy.go:57", fmt.Sprintf("%s %s from %d.%d.%d.%d", method, route, 10, g.rng.IntN(4), g.rng.IntN(256), g.rng.IntN(256)), user, "")
	if g.rng.IntN(4) == 0 {
		g.log(&r, orders, 5, "orders/repo.go:211", fmt.Sprintf("cache miss for user %s, loading orders from db", user), user, "")
	}
	g.log(&r, db, 5, "orders/repo.go:230", fmt.Sprintf("query took %dus rows=%d", db.Duration/1000, g.rng.IntN(20)), user, "")
	g.log(&r, inv, 9, "com.shop.inventory.StockController.get(StockController.java:64)", fmt.Sprintf("stock for sku SKU-%05d is %d", g.rng.IntN(5000), g.rng.IntN(300)), user, "")
	if slow {
		g.log(&r, orders, 13, "orders/handler.go:77", fmt.Sprintf("slow request %s %s took %dms", method, route, orders.Duration/1e6), user, "")
	}
	if status >= 500 {
		g.log(&r, orders, 17, "orders/handler.go:96", fmt.Sprintf("order %s failed: payment error: bank declined: upstream unavailable", orderID), user, "")
	} else if method == "POST" {
		g.log(&r, orders, 9, "orders/handler.go:118", fmt.Sprintf("order %s created for user %s total=%d.%02d EUR items=%d", orderID, user, amount/100, amount%100, 1+g.rng.IntN(6)), user, "")
	}
	g.log(&r, root, 9, "gateway/proxy.go:81", fmt.Sprintf("%s %s %d %dms", method, route, status, root.Duration/1e6), user, "")
	return r
}

func (g *Generator) fill(b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := g.rng.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

func (g *Generator) host(svc string) string { return g.hosts[svc][g.rng.IntN(3)] }

// dur is a log-normal-ish latency around median.
func (g *Generator) dur(median time.Duration) int64 {
	return int64(float64(median) * (0.5 + g.rng.ExpFloat64()*0.5))
}

// maxSpans is the most spans a request has: the gateway, orders, its
// query, its inventory call and the inventory span, and for a POST the
// payments call, the payments span and the bank call.
const maxSpans = 8

func (g *Generator) span(r *Request, tid events.TraceID, parent events.SpanID, svc, host, name string, kind int32, start, dur int64) *events.Event {
	e := events.Event{
		Time: start, TraceID: tid, ParentSpanID: parent, Service: svc,
		Resource: g.resource(svc, host), Scope: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
		ScopeVer: "0.63.0", Name: name, SpanKind: kind, Duration: dur,
	}
	g.fill(e.SpanID[:])
	if len(r.Spans) == cap(r.Spans) {
		panic("eventgen: a request has more than maxSpans spans; the pointers span returned would move")
	}
	r.Spans = append(r.Spans, e)
	return &r.Spans[len(r.Spans)-1]
}

func (g *Generator) httpAttrs(e *events.Event, method, route string, status int) {
	e.Attrs = append(e.Attrs, events.Attr{Key: "http.request.method", Value: events.Str(method)})
	if route != "" {
		e.Attrs = append(e.Attrs, events.Attr{Key: "http.route", Value: events.Str(route)})
	}
	e.Attrs = append(e.Attrs, events.Attr{Key: "http.response.status_code", Value: events.Int(int64(status))})
	if e.SpanKind == 2 {
		e.Attrs = append(e.Attrs, events.Attr{Key: "network.protocol.version", Value: events.Str("1.1")})
	}
}

var levelText = map[int32]string{5: "DEBUG", 9: "INFO", 13: "WARN", 17: "ERROR"}

func (g *Generator) log(r *Request, span *events.Event, sev int32, caller, msg, user, stack string) {
	// JSON loggers write milliseconds (slog, zap, logback), so the times
	// stored from their lines have millisecond precision.
	at := (span.Time + g.rng.Int64N(max(span.Duration, 1))) / 1e6 * 1e6
	e := events.Event{
		Time: at, TraceID: span.TraceID, SpanID: span.SpanID, Service: span.Service,
		Resource: span.Resource, Scope: "log/slog", Severity: sev, SeverityText: levelText[sev], Body: msg,
		Attrs: events.Attrs{{Key: "user_id", Value: events.Str(user)}, {Key: "caller", Value: events.Str(caller)}},
	}
	if stack != "" {
		e.Attrs = append(e.Attrs, events.Attr{Key: "stacktrace", Value: events.Str(stack)})
	}
	r.Logs = append(r.Logs, e)
}

func (g *Generator) stack() string {
	return fmt.Sprintf("goroutine %d [running]:\n"+
		"github.com/shop/payments/bank.(*Client).Charge(0xc000%06x, {0x1a2b3c0, 0xc000%06x})\n"+
		"\t/src/payments/bank/client.go:142 +0x2f4\n"+
		"github.com/shop/payments/charge.(*Handler).ServeHTTP(0xc000%06x, {0x1a2c9e8, 0xc000%06x}, 0xc000%06x)\n"+
		"\t/src/payments/charge/handler.go:88 +0x1b9\n"+
		"net/http.serverHandler.ServeHTTP({0xc000%06x}, {0x1a2c9e8, 0xc000%06x}, 0xc000%06x)\n"+
		"\t/usr/local/go/src/net/http/server.go:3301 +0x8e\n",
		g.rng.IntN(100000), g.rng.IntN(1<<24), g.rng.IntN(1<<24), g.rng.IntN(1<<24), g.rng.IntN(1<<24),
		g.rng.IntN(1<<24), g.rng.IntN(1<<24), g.rng.IntN(1<<24), g.rng.IntN(1<<24))
}

// JSONLine renders a generated log event as the JSON line an app logger
// would have written: the raw size the compression figure is taken against.
func JSONLine(e *events.Event) []byte {
	m := map[string]any{
		"time":    time.Unix(0, e.Time).UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"level":   e.SeverityText,
		"msg":     e.Body,
		"service": e.Service,
	}
	for _, a := range e.Resource {
		switch a.Key {
		case "service.version":
			m["version"] = a.Value.Str
		case "deployment.environment.name":
			m["env"] = a.Value.Str
		case "host.name":
			m["host"] = a.Value.Str
		}
	}
	if !e.TraceID.IsZero() {
		m["trace_id"] = hex.EncodeToString(e.TraceID[:])
		m["span_id"] = hex.EncodeToString(e.SpanID[:])
	}
	for _, a := range e.Attrs {
		m[a.Key] = a.Value.Str
	}
	b, _ := json.Marshal(m)
	return b
}
