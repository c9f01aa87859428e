package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

// entry is one log line of a stream: its time (unix ns), text and
// structured metadata (nil for none).
type entry struct {
	ts   int64
	line string
	md   map[string]string
}

// stream is a set of stream labels and its entries, oldest first.
type stream struct {
	labels  map[string]string
	format  string // which line generator writes its lines
	weight  int    // relative share of the lines
	entries []entry
}

// Dataset is the generated shop: streams of lines spread over a window.
type Dataset struct {
	Start, End time.Time // the first and last line's times
	Streams    []*stream
	Lines      int
}

// Fixed values the corpus names: a trace id planted in a few requests, a
// user and an order id that occur in the data.
const (
	plantedTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	plantedUser  = "u-1007"
)

// NewDataset generates lines lines over span, the last at end, with a
// fixed seed: the same seed, end and sizes give the same bytes. Each line's
// time is distinct (to the nanosecond) across the whole data set, so that
// a query's limit cuts at the same line in any store.
func NewDataset(seed uint64, end time.Time, span time.Duration, lines int) *Dataset {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	d := &Dataset{End: end, Start: end.Add(-span), Lines: lines}
	d.Streams = shopStreams()
	total := 0
	for _, s := range d.Streams {
		total += s.weight
	}
	gap := span.Nanoseconds() / int64(lines)
	g := &lineGen{rng: rng}
	for i := range lines {
		ts := d.Start.UnixNano() + int64(i)*gap + rng.Int64N(gap/2+1)
		if i == lines-1 {
			ts = end.UnixNano()
		}
		n := rng.IntN(total)
		var s *stream
		for _, c := range d.Streams {
			if n < c.weight {
				s = c
				break
			}
			n -= c.weight
		}
		line, md := g.line(s, ts, i)
		s.entries = append(s.entries, entry{ts: ts, line: line, md: md})
	}
	return d
}

// shopStreams are the shop's streams: services in two environments and a
// few pods each, an nginx access log known by its job only, auth with
// level as a stream label, and a packed (Promtail pack) stream.
func shopStreams() []*stream {
	var out []*stream
	add := func(format string, weight int, kv ...string) {
		l := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			l[kv[i]] = kv[i+1]
		}
		out = append(out, &stream{labels: l, format: format, weight: weight})
	}
	for _, env := range []string{"prod", "staging"} {
		w := 1
		if env == "prod" {
			w = 4
		}
		for p := range 3 {
			add("gateway", 6*w, "service_name", "api-gateway", "env", env, "cluster", "eu-west-1", "namespace", "shop",
				"pod", fmt.Sprintf("api-gateway-7d9f%d-%c", p, 'a'+p))
			add("orders", 4*w, "service_name", "orders", "env", env, "cluster", "eu-west-1", "namespace", "shop",
				"pod", fmt.Sprintf("orders-5c8b%d-%c", p, 'k'+p))
		}
		for p := range 2 {
			add("inventory", 2*w, "service_name", "inventory", "env", env, "namespace", "shop",
				"pod", fmt.Sprintf("inventory-%d", p))
		}
		add("notifications", 2*w, "service_name", "notifications", "env", env, "namespace", "shop")
		add("cron", 1, "service_name", "cron", "env", env, "namespace", "ops")
	}
	for p := range 3 {
		add("payments", 12, "service_name", "payments", "env", "prod", "cluster", "eu-west-1", "namespace", "shop",
			"pod", fmt.Sprintf("payments-%d", p))
	}
	add("payments", 3, "service_name", "payments", "env", "staging", "cluster", "eu-west-1", "namespace", "shop", "pod", "payments-s0")
	for h := range 3 {
		add("nginx", 8, "job", "nginx", "host", fmt.Sprintf("web-%d", h+1), "filename", "/var/log/nginx/access.log")
	}
	for _, lv := range []string{"info", "warn", "error"} {
		w := map[string]int{"info": 6, "warn": 2, "error": 1}[lv]
		add("auth", w, "app", "auth", "env", "prod", "level", lv)
	}
	add("auth", 2, "app", "auth", "env", "staging", "level", "info")
	for p := range 3 {
		add("checkout", 3, "service_name", "checkout", "env", "prod", "namespace", "shop", "container", "app",
			"pod", fmt.Sprintf("checkout-%d", p))
	}
	return out
}

// lineGen writes lines in each stream's format.
type lineGen struct {
	rng *rand.Rand
}

var (
	routes   = []string{"/api/v1/orders", "/api/v1/products", "/api/v1/cart", "/api/v1/checkout", "/api/v1/users/me", "/healthz"}
	methods  = []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	tiers    = []string{"free", "silver", "gold"}
	brands   = []string{"visa", "mastercard", "amex"}
	agents   = []string{"Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "Go-http-client/1.1", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"}
	orderErr = []struct{ code, msg string }{{"E_STOCK", "out of stock"}, {"E_PRICE", "price changed"}, {"E_DB", "deadlock detected"}}
)

func (g *lineGen) pick(s []string) string { return s[g.rng.IntN(len(s))] }

func (g *lineGen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.rng.IntN(16)]
	}
	return string(b)
}

func (g *lineGen) level() string {
	switch n := g.rng.IntN(100); {
	case n < 3:
		return "error"
	case n < 10:
		return "warn"
	case n < 20:
		return "debug"
	default:
		return "info"
	}
}

// line writes the i-th line of the data set for stream s at ts.
func (g *lineGen) line(s *stream, ts int64, i int) (string, map[string]string) {
	t := time.Unix(0, ts).UTC()
	trace := g.hex(32)
	if i%997 == 0 {
		trace = plantedTrace
	}
	user := fmt.Sprintf("u-%d", 1000+g.rng.IntN(50))
	switch s.format {
	case "gateway":
		status := 200
		switch n := g.rng.IntN(100); {
		case n < 4:
			status = 500
		case n < 6:
			status = 503
		case n < 12:
			status = 404
		case n < 16:
			status = 201
		}
		lv := "info"
		if status >= 500 {
			lv = "error"
		} else if status == 404 {
			lv = "warn"
		}
		ms := g.rng.ExpFloat64() * 40
		if status >= 500 {
			ms += 900
		}
		return fmt.Sprintf(`ts=%s level=%s caller=handler.go:%d method=%s path=%s status=%d duration=%s bytes=%s client=10.%d.%d.%d user=%s trace_id=%s msg="request served"`,
			t.Format(time.RFC3339Nano), lv, 80+g.rng.IntN(20), g.pick(methods), g.pick(routes), status,
			time.Duration(ms*float64(time.Millisecond)).Round(100*time.Microsecond), byteSize(g.rng.IntN(20000)),
			g.rng.IntN(4), g.rng.IntN(256), 1+g.rng.IntN(254), user, trace), nil
	case "orders":
		lv := g.level()
		m := map[string]any{"ts": t.Format(time.RFC3339Nano), "level": lv, "msg": "order created",
			"order":       map[string]any{"id": fmt.Sprintf("o-%d", 10000+i), "items": 1 + g.rng.IntN(6), "total": float64(g.rng.IntN(50000)) / 100},
			"user":        map[string]any{"id": user, "tier": g.pick(tiers)},
			"duration_ms": g.rng.IntN(300)}
		switch lv {
		case "error":
			e := orderErr[g.rng.IntN(len(orderErr))]
			m["msg"] = "order failed"
			m["error"] = map[string]any{"code": e.code, "message": e.msg}
		case "debug":
			m["msg"] = "cache lookup"
			m["cache"] = map[string]any{"hit": g.rng.IntN(2) == 0, "key": "order:" + strconv.Itoa(i)}
		}
		return jsonLine(m), map[string]string{"trace_id": trace, "span_id": g.hex(16)}
	case "payments":
		lv := g.level()
		msg, latency := "payment authorized", time.Duration(20+g.rng.IntN(400))*time.Millisecond
		if lv == "error" {
			msg, latency = "payment declined: bank timeout", time.Duration(2000+g.rng.IntN(3000))*time.Millisecond
		}
		m := map[string]any{"level": lv, "message": msg, "latency": latency.String(), "amount": float64(g.rng.IntN(100000)) / 100,
			"currency": g.pick([]string{"EUR", "USD"}), "attempt": 1 + g.rng.IntN(3)}
		return jsonLine(m), map[string]string{"trace_id": trace, "user_id": user, "card_brand": g.pick(brands)}
	case "inventory":
		lv := strings.ToUpper(g.level())
		sku := fmt.Sprintf("sku-%d", 100+g.rng.IntN(100))
		if lv == "ERROR" {
			return fmt.Sprintf("%s %s reservation of %d units of %s failed: stock below zero", t.Format(time.RFC3339Nano), lv, 1+g.rng.IntN(5), sku), nil
		}
		return fmt.Sprintf("%s %s reserved %d units of %s for order o-%d in %dms", t.Format(time.RFC3339Nano), lv, 1+g.rng.IntN(5), sku, 10000+g.rng.IntN(i+1), 1+g.rng.IntN(80)), nil
	case "notifications":
		lv := g.level()
		color := map[string]string{"error": "31", "warn": "33", "debug": "36", "info": "32"}[lv]
		return fmt.Sprintf("\x1b[%sm%s\x1b[0m sent %s to %s via %s in %dms", color, strings.ToUpper(lv), g.pick([]string{"email", "sms", "push"}), user, g.pick([]string{"smtp", "twilio", "fcm"}), 5+g.rng.IntN(900)),
			map[string]string{"trace_id": trace}
	case "cron":
		return fmt.Sprintf("job %s finished rows=%d took=%ds", g.pick([]string{"nightly-report", "cleanup", "reindex"}), g.rng.IntN(5000), g.rng.IntN(120)), nil
	case "nginx":
		status := g.pick([]string{"200", "200", "200", "200", "304", "404", "500"})
		ip := fmt.Sprintf("192.168.%d.%d", g.rng.IntN(4), 1+g.rng.IntN(254))
		if g.rng.IntN(5) == 0 {
			ip = fmt.Sprintf("2001:db8::%x", 1+g.rng.IntN(0xfff))
		}
		return fmt.Sprintf(`%s - - [%s] "%s %s HTTP/1.1" %s %d "-" "%s" %.3f`, ip, t.Format("02/Jan/2006:15:04:05 -0700"),
			g.pick(methods), g.pick(routes), status, g.rng.IntN(30000), g.pick(agents), g.rng.ExpFloat64()*0.05), nil
	case "auth":
		lv := s.labels["level"]
		switch lv {
		case "error":
			return fmt.Sprintf(`level=error msg="login failed" user=%s reason=%q attempts=%d`, user, g.pick([]string{"bad password", "locked", "mfa timeout"}), 1+g.rng.IntN(5)), nil
		case "warn":
			return fmt.Sprintf(`level=warn msg="token near expiry" user=%s expires_in=%ds`, user, g.rng.IntN(600)), nil
		}
		return fmt.Sprintf(`level=info msg="login ok" user=%s method=%s latency=%dms`, user, g.pick([]string{"password", "sso", "passkey"}), 3+g.rng.IntN(200)), nil
	case "checkout":
		entry := fmt.Sprintf("%s /checkout %d %dms", g.pick(methods), g.pick2(200, 502), g.rng.IntN(500))
		return jsonLine(map[string]any{"_entry": entry, "pod": s.labels["pod"], "stage": g.pick([]string{"cart", "address", "payment", "confirm"})}), nil
	}
	panic("unknown format " + s.format)
}

func (g *lineGen) pick2(a, b int) int {
	if g.rng.IntN(10) == 0 {
		return b
	}
	return a
}

// byteSize writes n bytes as Loki's bytes() reads them (1.2KB).
func byteSize(n int) string {
	if n < 1000 {
		return strconv.Itoa(n) + "B"
	}
	return strconv.FormatFloat(float64(n)/1000, 'f', 1, 64) + "KB"
}

// jsonLine encodes m with sorted keys and without HTML escaping.
func jsonLine(m map[string]any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// PushBodies encodes the data set as Loki JSON push bodies (Loki's
// /loki/api/v1/push, application/json: {"streams":[{"stream":{...},
// "values":[["<ns>","<line>",{metadata}]]}]}), each of at most batch lines,
// in time order. The same bodies go to both servers.
func (d *Dataset) PushBodies(batch int) [][]byte {
	type value = []any
	type pushStream struct {
		Stream map[string]string `json:"stream"`
		Values []value           `json:"values"`
	}
	// Merge all entries by time, then cut batches.
	type ref struct {
		s *stream
		e entry
	}
	var all []ref
	for _, s := range d.Streams {
		for _, e := range s.entries {
			all = append(all, ref{s, e})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].e.ts < all[j].e.ts })
	var out [][]byte
	for lo := 0; lo < len(all); lo += batch {
		hi := min(lo+batch, len(all))
		idx := map[*stream]int{}
		var body struct {
			Streams []pushStream `json:"streams"`
		}
		for _, r := range all[lo:hi] {
			k, ok := idx[r.s]
			if !ok {
				k = len(body.Streams)
				idx[r.s] = k
				body.Streams = append(body.Streams, pushStream{Stream: r.s.labels})
			}
			v := value{strconv.FormatInt(r.e.ts, 10), r.e.line}
			if r.e.md != nil {
				v = append(v, r.e.md)
			}
			body.Streams[k].Values = append(body.Streams[k].Values, v)
		}
		b, err := json.Marshal(body)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}
