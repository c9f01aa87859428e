package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// genOptions says what input to generate. The same options give the same
// bytes.
type genOptions struct {
	Lines int           // lines to write
	Seed  uint64        // random seed
	End   time.Time     // the last line is just before End
	Span  time.Duration // the lines are spread evenly over [End-Span, End)
}

// truth is what the generator knows about its file: the questions the
// harness asks and their answers, counted while writing, against which every
// server's answer is checked. It is stored as JSON beside the cached file.
type truth struct {
	Lines    int              `json:"lines"`
	Bytes    int64            `json:"bytes"`     // of the file, newlines included
	First    time.Time        `json:"first"`     // time of the first line
	Last     time.Time        `json:"last"`      // time of the last line
	Levels   map[string]int64 `json:"levels"`    // lines per level
	TraceID  string           `json:"trace_id"`  // a trace in the middle of the file
	TraceN   int              `json:"trace_n"`   // its lines
	OrderID  string           `json:"order_id"`  // an order id a third of the way in
	OrderN   int              `json:"order_n"`   // lines whose msg holds it
	ErrSvc   string           `json:"err_svc"`   // the service of the newest-errors question
	ErrN     int              `json:"err_n"`     // its error lines
	Services []string         `json:"services"`  // the services, sorted
	Traces   int              `json:"traces"`    // traces written
	Version  int              `json:"version"`   // generatorVersion
	Options  genFileOptions   `json:"options"`   // what made the file
	Spans    int              `json:"spans_est"` // spans the traces part makes of the same traces (one per service hop)
}

// genFileOptions is genOptions as stored in the truth file.
type genFileOptions struct {
	Lines int       `json:"lines"`
	Seed  uint64    `json:"seed"`
	End   time.Time `json:"end"`
	Span  string    `json:"span"`
}

// generatorVersion changes whenever the generator's output changes, so that
// a cached file of an older generator is not reused.
const generatorVersion = 3

type shopService struct{ name, version, caller string }

// The shop's eight services, each with a version and the source line its
// logger reports.
var shopServices = []shopService{
	{"api-gateway", "2.14.1", "gateway/proxy.go:57"},
	{"orders", "1.31.0", "orders/handler.go:118"},
	{"inventory", "0.9.7", "com.shop.inventory.StockController.get(StockController.java:64)"},
	{"payments", "3.2.4", "payments/charge.go:102"},
	{"cart", "1.8.2", "cart/service.ts:211"},
	{"users", "4.0.1", "users/session.py:88"},
	{"shipping", "2.3.0", "shipping/booking.go:45"},
	{"notifications", "1.2.5", "notify/email.go:41"},
}

const (
	svcGateway = iota
	svcOrders
	svcInventory
	svcPayments
	svcCart
	svcUsers
	svcShipping
	svcNotifications
)

// shopLine is one line before it is written.
type shopLine struct {
	svc   int
	level string
	msg   string
}

// generator makes the shop's traces and writes them as JSON lines.
type generator struct {
	rng    *rand.Rand
	hosts  [][]string
	users  []string
	orders int // checkouts so far: order ids are unique by construction
	buf    []byte
}

func newGenerator(seed uint64) *generator {
	g := &generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for _, s := range shopServices {
		var hs []string
		for i := 0; i < 3; i++ {
			hs = append(hs, fmt.Sprintf("%s-%05x-%d", s.name, g.rng.Uint32()&0xfffff, i))
		}
		g.hosts = append(g.hosts, hs)
	}
	for i := 0; i < 20000; i++ {
		g.users = append(g.users, "u-"+strconv.Itoa(100000+g.rng.IntN(900000)))
	}
	return g
}

// orderID is the k-th checkout's order id: 7 digits, distinct for every k
// below 9,000,000 (7919 is prime and does not divide 9,000,000).
func orderID(k int) string { return "o-" + strconv.Itoa(1000000+(k*7919)%9000000) }

// trace makes the lines of one request and its user: a product page view (about 4
// lines) or a checkout (about 9) through the shop's services.
func (g *generator) trace() ([]shopLine, string) {
	r := g.rng
	ip := fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), r.IntN(256))
	user := g.users[int(r.ExpFloat64()*2000)%len(g.users)]
	var ls []shopLine
	add := func(svc int, level, msg string) { ls = append(ls, shopLine{svc, level, msg}) }
	if r.IntN(10) < 6 {
		add(svcGateway, "info", "GET /api/products/{id} from "+ip)
		if r.IntN(2) == 0 {
			add(svcUsers, "info", fmt.Sprintf("session refreshed for user %s (ttl 3600s)", user))
		}
		if r.IntN(100) == 0 {
			add(svcUsers, "warn", fmt.Sprintf("login throttled for user %s: %d attempts in 60s", user, 5+r.IntN(20)))
		}
		sku, stock := r.IntN(5000), r.IntN(300)
		if r.IntN(30) == 0 {
			add(svcInventory, "warn", fmt.Sprintf("stock low for sku SKU-%05d: %d left", sku, stock%5))
		} else {
			add(svcInventory, "info", fmt.Sprintf("stock for sku SKU-%05d is %d", sku, stock))
		}
		if r.IntN(4) == 0 {
			add(svcOrders, "info", fmt.Sprintf("cache miss for user %s, loading orders from db", user))
		}
		add(svcGateway, "info", fmt.Sprintf("GET /api/products/{id} 200 %dms", 3+r.IntN(40)))
		return ls, user
	}
	order := orderID(g.orders)
	g.orders++
	items, cents := 1+r.IntN(6), 99+r.IntN(50000)
	add(svcGateway, "info", "POST /api/orders from "+ip)
	add(svcCart, "info", fmt.Sprintf("cart c-%06x checked out: %d items, total %d.%02d EUR", r.Uint32()&0xffffff, items, cents/100, cents%100))
	add(svcInventory, "info", fmt.Sprintf("stock reserved for sku SKU-%05d: %d units", r.IntN(5000), items))
	add(svcOrders, "info", fmt.Sprintf("query took %dus rows=%d", 200+r.IntN(4000), r.IntN(20)))
	status, took := 200, 40+r.IntN(200)
	if r.IntN(50) == 0 {
		status = 502
		add(svcPayments, "error", fmt.Sprintf("charge failed for order %s: bank returned 503 after %dms", order, 20+r.IntN(3000)))
		add(svcOrders, "error", fmt.Sprintf("order %s failed: payment error: bank declined: upstream unavailable", order))
	} else {
		add(svcPayments, "info", fmt.Sprintf("charge authorized for order %s amount=%d.%02d EUR", order, cents/100, cents%100))
		add(svcOrders, "info", fmt.Sprintf("order %s created for user %s total=%d.%02d EUR items=%d", order, user, cents/100, cents%100, items))
		add(svcShipping, "info", fmt.Sprintf("shipment s-%07d for order %s booked with carrier %s, eta %d days",
			r.IntN(10000000), order, [...]string{"dhl", "ups", "dpd", "gls"}[r.IntN(4)], 1+r.IntN(5)))
		add(svcNotifications, "info", fmt.Sprintf("email order-confirmation queued for user %s (order %s)", user, order))
	}
	if r.IntN(200) == 0 {
		took += 2000 + r.IntN(3000)
		add(svcOrders, "warn", fmt.Sprintf("slow request POST /api/orders took %dms", took))
	}
	level := "info"
	if status >= 500 {
		level = "warn"
	}
	add(svcGateway, level, fmt.Sprintf("POST /api/orders %d %dms", status, took))
	return ls, user
}

func (g *generator) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return hex.EncodeToString(b)
}

// appendLine appends one JSON line. The values hold no character JSON
// escapes (the templates and ids are plain ASCII without quotes or
// backslashes), so they are written as they are.
func appendLine(b []byte, at time.Time, l shopLine, host, traceID, spanID, user string) []byte {
	s := shopServices[l.svc]
	b = append(b, `{"time":"`...)
	b = at.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","level":"`...)
	b = append(b, l.level...)
	b = append(b, `","service":"`...)
	b = append(b, s.name...)
	b = append(b, `","host":"`...)
	b = append(b, host...)
	b = append(b, `","version":"`...)
	b = append(b, s.version...)
	b = append(b, `","trace_id":"`...)
	b = append(b, traceID...)
	b = append(b, `","span_id":"`...)
	b = append(b, spanID...)
	b = append(b, `","user_id":"`...)
	b = append(b, user...)
	b = append(b, `","caller":"`...)
	b = append(b, s.caller...)
	b = append(b, `","msg":"`...)
	b = append(b, l.msg...)
	b = append(b, "\"}\n"...)
	return b
}

// generate writes o.Lines lines to w and returns what it knows of them.
// Line i is timed End-Span + i×Span/Lines (to the millisecond, as JSON
// loggers write), so the file is in time order; a trace's lines are
// consecutive and its spans are one per service it passes through.
func generate(w io.Writer, o genOptions) (truth, error) {
	g := newGenerator(o.Seed)
	start := o.End.Add(-o.Span)
	t := truth{
		Levels:  map[string]int64{},
		ErrSvc:  shopServices[svcPayments].name,
		Version: generatorVersion,
		Options: genFileOptions{Lines: o.Lines, Seed: o.Seed, End: o.End.UTC(), Span: o.Span.String()},
	}
	for _, s := range shopServices {
		t.Services = append(t.Services, s.name)
	}
	sort.Strings(t.Services)
	bw := bufio.NewWriterSize(w, 1<<20)
	i := 0
	for i < o.Lines {
		ls, user := g.trace()
		traceID := g.hex(16)
		spans := map[int]string{}
		t.Traces++
		middle := t.TraceID == "" && i >= o.Lines/2
		if middle {
			t.TraceID = traceID
		}
		for _, l := range ls {
			if i == o.Lines {
				break
			}
			span, ok := spans[l.svc]
			if !ok {
				span = g.hex(8)
				spans[l.svc] = span
				t.Spans++
			}
			at := lineTime(start, o.Span, i, o.Lines)
			if i == 0 {
				t.First = at
			}
			t.Last = at
			host := g.hosts[l.svc][g.rng.IntN(3)]
			g.buf = appendLine(g.buf[:0], at, l, host, traceID, span, user)
			if _, err := bw.Write(g.buf); err != nil {
				return truth{}, err
			}
			t.Bytes += int64(len(g.buf))
			t.Levels[l.level]++
			if middle {
				t.TraceN++
			}
			if t.OrderID == "" && i >= o.Lines/3 && strings.HasPrefix(l.msg, "charge ") {
				t.OrderID = l.msg[strings.Index(l.msg, "o-") : strings.Index(l.msg, "o-")+9]
			}
			if t.OrderID != "" && strings.Contains(l.msg, t.OrderID) {
				t.OrderN++
			}
			if l.level == "error" && shopServices[l.svc].name == t.ErrSvc {
				t.ErrN++
			}
			i++
		}
	}
	t.Lines = i
	return t, bw.Flush()
}

// lineTime is the time of line i of n spread over span from start, to the
// millisecond. (span × i overflows an int64 of nanoseconds for 2 h and
// 2 M lines, hence the float: exact to the nanosecond below 2^53 ns, 104
// days.)
func lineTime(start time.Time, span time.Duration, i, n int) time.Time {
	return start.Add(time.Duration(float64(span) * float64(i) / float64(n))).Truncate(time.Millisecond)
}

// cachedInput returns the path of the input file for o.Lines and o.Seed
// in dir and its truth: a file generated earlier whose end is less than
// maxAge ago, else a new one ending at now (to the minute). The file is
// written under a temporary name and renamed, so a stopped run leaves no
// half file to be reused.
func cachedInput(dir string, lines int, seed uint64, span, maxAge time.Duration, now time.Time) (string, truth, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", truth{}, err
	}
	prefix := fmt.Sprintf("shop-v%d-%d-s%d-", generatorVersion, lines, seed)
	olds, _ := filepath.Glob(filepath.Join(dir, prefix+"*.json"))
	sort.Strings(olds)
	for i := len(olds) - 1; i >= 0; i-- {
		var t truth
		b, err := os.ReadFile(olds[i])
		if err != nil || json.Unmarshal(b, &t) != nil || now.Sub(t.Options.End) > maxAge || t.Options.Span != span.String() {
			continue
		}
		data := strings.TrimSuffix(olds[i], ".json") + ".jsonl"
		if st, err := os.Stat(data); err == nil && st.Size() == t.Bytes {
			return data, t, nil
		}
	}
	end := now.Truncate(time.Minute)
	base := filepath.Join(dir, prefix+strconv.FormatInt(end.Unix(), 10))
	f, err := os.Create(base + ".jsonl.tmp")
	if err != nil {
		return "", truth{}, err
	}
	t, err := generate(f, genOptions{Lines: lines, Seed: seed, End: end, Span: span})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", truth{}, fmt.Errorf("generating %s: %w", base+".jsonl", err)
	}
	if err := os.Rename(base+".jsonl.tmp", base+".jsonl"); err != nil {
		return "", truth{}, err
	}
	b, _ := json.MarshalIndent(t, "", "  ")
	if err := os.WriteFile(base+".json", b, 0o644); err != nil {
		return "", truth{}, err
	}
	return base + ".jsonl", t, nil
}
