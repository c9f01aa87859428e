package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/internal/changes"
	"github.com/horus-obs/horus/internal/investigate"
)

// A checkout shop sent over OTLP/HTTP with the OpenTelemetry SDK, with
// the times of a past window: gateway's POST /api/payments calls one of
// three payments instances in turn. Faults start at the onset.
const (
	faultNone     = ""
	faultInstance = "instance" // payments-3 fails; gateway logs "connection refused to payments-3"
	faultSlow     = "slow"     // payment.method=gift_card takes 2 s more in payments
)

type shopRun struct {
	org                string
	fault              string
	start, onset, end  time.Time
	gateway, payments  string // service names
	requests, failures int
}

// send exports the shop's spans and the gateway's logs over the window,
// one checkout every 2 s.
func (s *shopRun) send(t *testing.T, ts *testServer) {
	t.Helper()
	ctx := context.Background()
	res := func(svc, inst string) *resource.Resource {
		return resource.NewSchemaless(attribute.String("service.name", svc), attribute.String("service.instance.id", inst),
			attribute.String("service.version", "1.4.0"), attribute.String("deployment.environment.name", "test"))
	}
	provider := func(r *resource.Resource) *sdktrace.TracerProvider {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(spanExporter(t, ctx, ts, "http", s.org)), sdktrace.WithResource(r))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return tp
	}
	gw := provider(res(s.gateway, s.gateway+"-1"))
	pays := []*sdktrace.TracerProvider{
		provider(res(s.payments, s.payments+"-1")), provider(res(s.payments, s.payments+"-2")), provider(res(s.payments, s.payments+"-3")),
	}
	headers := map[string]string{}
	if s.org != "" {
		headers["X-Scope-OrgID"] = s.org
	}
	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(ts.Addrs().OTLPHTTP), otlploghttp.WithInsecure(), otlploghttp.WithHeaders(headers))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(lexp)), sdklog.WithResource(res(s.gateway, s.gateway+"-1")))
	t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	logger := lp.Logger("shop")
	logLine := func(ctx context.Context, at time.Time, sev otellog.Severity, body string) {
		var rec otellog.Record
		rec.SetTimestamp(at)
		rec.SetSeverity(sev)
		rec.SetBody(attribute.StringValue(body))
		logger.Emit(ctx, rec)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	methods := []string{"card", "card", "paypal", "gift_card"}
	for at, i := s.start, 0; at.Before(s.end); at, i = at.Add(2*time.Second), i+1 {
		method := methods[rng.IntN(len(methods))]
		inst := i % 3
		after := !at.Before(s.onset)
		fail := s.fault == faultInstance && after && inst == 2 || s.fault == faultNone && rng.IntN(100) == 0
		payDur := time.Duration(15+rng.IntN(20)) * time.Millisecond
		if s.fault == faultSlow && after && method == "gift_card" {
			payDur += 2 * time.Second
		}
		sctx, root := gw.Tracer("gw").Start(ctx, "POST /api/payments", trace.WithTimestamp(at), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.route", "/api/payments"), attribute.String("payment.method", method),
				attribute.String("order.id", "o-"+strconv.Itoa(100000+i))))
		cctx, client := gw.Tracer("gw").Start(sctx, "POST /pay", trace.WithTimestamp(at.Add(time.Millisecond)), trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("peer.service", s.payments)))
		_, pay := pays[inst].Tracer("pay").Start(cctx, "POST /pay", trace.WithTimestamp(at.Add(2*time.Millisecond)), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("payment.method", method)))
		end := at.Add(2*time.Millisecond + payDur)
		if fail {
			msg := "card declined"
			if s.fault == faultInstance {
				msg = "dial tcp: connect: connection refused"
			}
			pay.SetStatus(codes.Error, msg)
			client.SetStatus(codes.Error, "503 Service Unavailable")
			root.SetStatus(codes.Error, "")
			s.failures++
		}
		pay.End(trace.WithTimestamp(end))
		client.End(trace.WithTimestamp(end.Add(time.Millisecond)))
		root.End(trace.WithTimestamp(end.Add(2 * time.Millisecond)))
		switch {
		case fail && s.fault == faultInstance:
			logLine(sctx, end, otellog.SeverityError, fmt.Sprintf("payment failed: connection refused to %s-3", s.payments))
		case fail:
			logLine(sctx, end, otellog.SeverityError, fmt.Sprintf("payment failed for order o-%d: card declined", 100000+i))
		default:
			logLine(sctx, end, otellog.SeverityInfo, fmt.Sprintf("charged order o-%d via %s", 100000+i, method))
		}
		s.requests++
	}
	for _, tp := range append(pays, gw) {
		if err := tp.ForceFlush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := lp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
}

// investigateGet calls GET /api/v1/investigate with params as org.
func investigateGet(t *testing.T, ts *testServer, org string, params url.Values) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL()+"/api/v1/investigate?"+params.Encode(), nil)
	if org != "" {
		req.Header.Set("X-Scope-OrgID", org)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// investigation is the answer's shape as a client reads it.
type investigation struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		Summary      string `json:"summary"`
		ClearCulprit bool   `json:"clearCulprit"`
		Link         string `json:"link"`
		Onset        struct {
			Statement string `json:"statement"`
			Details   struct {
				Onset *time.Time `json:"onset"`
			} `json:"details"`
		} `json:"onset"`
		Findings []struct {
			Kind      string                 `json:"kind"`
			Score     float64                `json:"score"`
			Statement string                 `json:"statement"`
			Evidence  []investigate.Evidence `json:"evidence"`
		} `json:"findings"`
		TookSeconds float64 `json:"tookSeconds"`
	} `json:"data"`
}

// investigateWait asks until the spans are in (ingest is asynchronous
// for the exporters' last batches) and returns the answer.
func investigateWait(t *testing.T, ts *testServer, org string, params url.Values, want int) investigation {
	t.Helper()
	var inv investigation
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := investigateGet(t, ts, org, params)
		if code != http.StatusOK {
			t.Fatalf("GET /api/v1/investigate?%s: %d %s", params.Encode(), code, body)
		}
		inv = investigation{}
		if err := json.Unmarshal(body, &inv); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(body), fmt.Sprintf(`"entrySpans":%d`, want)) || time.Now().After(deadline) {
			for _, f := range inv.Data.Findings {
				t.Logf("%.2f %-10s %s", f.Score, f.Kind, f.Statement)
			}
			t.Logf("summary: %s (%.3f s)", inv.Data.Summary, inv.Data.TookSeconds)
			return inv
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func windowParams(s *shopRun, extra ...string) url.Values {
	v := url.Values{"service": {s.gateway}, "start": {strconv.FormatInt(s.start.Unix(), 10)}, "end": {strconv.FormatInt(s.end.Unix(), 10)}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// TestInvestigate sends three shops over OTLP, each as its own tenant,
// and investigates each over HTTP: one payments instance failing, with
// a deploy to it 2 minutes before and a new log line, is the top finding
// with the change and the line; a payment method made slow is found as
// that attribute value; a shop without a fault gets no culprit. Bad
// input is a 400 that names the problem.
func TestInvestigate(t *testing.T) {
	ts := startServer(t, "")
	now := time.Now().Truncate(time.Second)
	start, end := now.Add(-31*time.Minute), now.Add(-time.Minute)
	onset := start.Add(20 * time.Minute)
	runs := map[string]*shopRun{
		faultInstance: {org: "", fault: faultInstance, gateway: "gateway", payments: "payments"},
		faultSlow:     {org: "team-slow", fault: faultSlow, gateway: "gateway", payments: "payments"},
		"none":        {org: "team-calm", fault: faultNone, gateway: "gateway", payments: "payments"},
	}
	for _, r := range runs {
		r.start, r.onset, r.end = start, onset, end
		r.send(t, ts)
	}
	deploy := changes.Change{Kind: changes.KindDeploy, Service: "payments", Instance: "payments-3", Version: "1.4.1",
		Description: "connection settings from the new vault path", Time: onset.Add(-2 * time.Minute)}
	if _, _, err := changeClient(ts, "").Add(context.Background(), deploy); err != nil {
		t.Fatal(err)
	}
	// A deploy of another service an hour before: no overlap, far.
	if _, _, err := changeClient(ts, "").Add(context.Background(), changes.Change{Kind: changes.KindDeploy, Service: "search",
		Version: "9.0.0", Time: onset.Add(-50 * time.Minute)}); err != nil {
		t.Fatal(err)
	}

	t.Run("instance", func(t *testing.T) {
		r := runs[faultInstance]
		inv := investigateWait(t, ts, r.org, windowParams(r, "signal", "errors"), r.requests)
		d := inv.Data
		if d.Onset.Details.Onset == nil || d.Onset.Details.Onset.Sub(onset).Abs() > 10*time.Second {
			t.Errorf("onset %v, want %v: %s", d.Onset.Details.Onset, onset, d.Onset.Statement)
		}
		if len(d.Findings) == 0 || d.Findings[0].Kind != investigate.KindBubbleUp || !strings.Contains(d.Findings[0].Statement, "payments-3") {
			t.Fatalf("top finding: %+v, want BubbleUp naming payments-3", d.Findings)
		}
		if !strings.Contains(d.Findings[0].Statement, "100% of failing requests") {
			t.Errorf("top finding %q, want 100%% of failing requests", d.Findings[0].Statement)
		}
		var change, logs string
		for _, f := range d.Findings {
			switch {
			case f.Kind == investigate.KindChange && change == "":
				change = f.Statement
			case f.Kind == investigate.KindLogs && logs == "":
				logs = f.Statement
				if len(f.Evidence) == 0 || f.Evidence[0].Lang != "logql" || !strings.HasPrefix(f.Evidence[0].URL, "/explore?") {
					t.Errorf("log evidence %+v, want an Explore link with LogQL", f.Evidence)
				}
			}
		}
		// The onset is the first failure: the first call to payments-3
		// from the fault's start, up to 4 s after it.
		if !strings.Contains(change, "deploy change on payments-3 (version 1.4.1)") || !regexp.MustCompile(`2m[0-4]?s? before the onset`).MatchString(change) {
			t.Errorf("change finding %q, want the deploy to payments-3 2m before the onset", change)
		}
		if !strings.Contains(logs, "`payment failed: connection refused to <_>` 0 →") {
			t.Errorf("log finding %q, want the new line", logs)
		}
		if !d.ClearCulprit || !strings.Contains(d.Summary, "payments-3") || !strings.HasPrefix(d.Link, "/investigate?") {
			t.Errorf("summary %q, link %q", d.Summary, d.Link)
		}
	})

	t.Run("slow attribute", func(t *testing.T) {
		r := runs[faultSlow]
		inv := investigateWait(t, ts, r.org, windowParams(r, "signal", "latency", "threshold", "1s"), r.requests)
		d := inv.Data
		if len(d.Findings) == 0 || d.Findings[0].Kind != investigate.KindBubbleUp || !strings.Contains(d.Findings[0].Statement, "payment.method=gift_card") {
			t.Fatalf("top finding: %+v, want payment.method=gift_card", d.Findings)
		}
		var where string
		for _, f := range d.Findings {
			if f.Kind == investigate.KindWhere && where == "" {
				where = f.Statement
			}
		}
		if !strings.Contains(where, `payments server span "POST /pay": +2`) {
			t.Errorf("where finding %q, want payments' server span adding 2 s", where)
		}
		// The change of the default tenant is not this tenant's.
		for _, f := range d.Findings {
			if f.Kind == investigate.KindChange {
				t.Errorf("another tenant's change: %s", f.Statement)
			}
		}
	})

	t.Run("no fault", func(t *testing.T) {
		r := runs["none"]
		inv := investigateWait(t, ts, r.org, windowParams(r, "signal", "errors"), r.requests)
		d := inv.Data
		if d.ClearCulprit || !strings.Contains(d.Summary, "no clear culprit") {
			t.Errorf("summary %q, want no clear culprit", d.Summary)
		}
		for _, f := range d.Findings {
			if f.Score >= investigate.ClearScore {
				t.Errorf("a culprit without a fault: %.2f %s", f.Score, f.Statement)
			}
		}
	})

	t.Run("bad input", func(t *testing.T) {
		r := runs[faultInstance]
		for _, c := range []struct {
			params url.Values
			org    string
			code   int
			want   string
		}{
			{url.Values{}, "", 400, "nothing to investigate"},
			{windowParams(r, "signal", "slowness"), "", 400, `signal "slowness"`},
			{windowParams(r, "signal", "errors", "threshold", "1s"), "", 400, "threshold is for signal=latency"},
			{windowParams(r, "signal", "latency", "threshold", "fast"), "", 400, `threshold "fast"`},
			{windowParams(r, "signal", "promql"), "", 400, "signal=promql needs expr"},
			{windowParams(r, "signal", "promql", "expr", "rate(x[5m]"), "", 400, "expr:"},
			{windowParams(r, "start", strconv.FormatInt(end.Unix()+60, 10)), "", 400, "is not after start"},
			{windowParams(r, "colour", "red"), "", 400, `unknown parameter "colour"`},
			{windowParams(r, "max_bad_traces", "0"), "", 400, "max_bad_traces"},
			{url.Values{"fingerprint": {"xyz"}}, "", 400, "want 16 hex digits"},
			{url.Values{"fingerprint": {"0123456789abcdef"}}, "", 404, "no active alert has fingerprint"},
			{url.Values{"rule": {"NoSuchRule"}}, "", 404, `no alerting rule is named "NoSuchRule"`},
			{windowParams(r), "bad tenant!", 400, "X-Scope-OrgID header"},
		} {
			code, body := investigateGet(t, ts, c.org, c.params)
			var e struct{ Error string }
			_ = json.Unmarshal(body, &e)
			if code != c.code || !strings.Contains(e.Error, c.want) {
				t.Errorf("GET ?%s: %d %s, want %d naming %q", c.params.Encode(), code, body, c.code, c.want)
			}
		}
	})
}
