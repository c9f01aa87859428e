package lintmetrics

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/horus-obs/horus/sdk/metrics"
)

// badRegistry is a real client_golang registry holding the mistakes the
// linter must find, next to good metrics it must leave alone.
func badRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewBuildInfoCollector())

	good := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."}, []string{"method", "route", "status"})
	good.WithLabelValues("GET", "GET /orders/{id}", "200").Add(3)
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Duration."}, []string{"route"})
	dur.WithLabelValues("GET /orders/{id}").(prometheus.ExemplarObserver).ObserveWithExemplar(0.2, prometheus.Labels{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"})

	camel := prometheus.NewCounter(prometheus.CounterOpts{Name: "ordersCreatedTotal", Help: "Orders."})
	camel.Inc()
	noTotal := prometheus.NewCounter(prometheus.CounterOpts{Name: "payments_failed", Help: "Failed payments."})
	noTotal.Inc()
	ms := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "checkout_latency_ms", Help: "Checkout latency.", Buckets: []float64{10, 100}})
	ms.Observe(42)
	users := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logins_total", Help: "Logins."}, []string{"user_id"})
	carts := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cart_items", Help: "Items per cart."}, []string{"cart"})
	for i := range 150 {
		users.WithLabelValues(fmt.Sprint(100000 + i)).Inc()
		if i < 5 {
			carts.WithLabelValues(fmt.Sprintf("%08x-1b2c-4d3e-8f40-%012x", i+1, i+7)).Set(float64(i))
		}
	}
	reg.MustRegister(good, dur, camel, noTotal, ms, users, carts)
	return reg
}

// want are the findings badRegistry must yield: metric, rule, label.
var want = []string{
	"cart_items|id-like-values|cart",
	"checkout_latency_ms|unit-abbreviation|",
	"logins_total|cardinality|",
	"logins_total|high-cardinality-label|user_id",
	"ordersCreatedTotal|counter-total|",
	"ordersCreatedTotal|snake-case|",
	"payments_failed|counter-total|",
}

func keys(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Metric+"|"+f.Rule+"|"+f.Label)
	}
	return out
}

// serve serves reg on 127.0.0.1 as Prometheus serves it (OpenMetrics on
// request, with created samples).
func serve(t *testing.T, reg *prometheus.Registry) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true, EnableOpenMetricsTextCreatedSamples: true}))
	t.Cleanup(srv.Close)
	return srv
}

// TestScrapeRealRegistry: a client_golang registry scraped over HTTP in each
// format gives the same findings, and they are the expected ones.
func TestScrapeRealRegistry(t *testing.T) {
	srv := serve(t, badRegistry())
	for _, accept := range []string{"auto", "protobuf", "text", "openmetrics"} {
		t.Run(accept, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			body, got, err := Fetch(ctx, srv.Client(), srv.URL, accept)
			if err != nil {
				t.Fatal(err)
			}
			wantFormat := map[string]Format{"auto": FormatProtobuf, "protobuf": FormatProtobuf, "text": FormatText, "openmetrics": FormatOpenMetrics}[accept]
			if got != wantFormat {
				t.Errorf("format %s, want %s", got, wantFormat)
			}
			mfs, err := Parse(body, got)
			if err != nil {
				t.Fatal(err)
			}
			fs := Lint(mfs, Options{})
			if k := keys(fs); !slices.Equal(k, want) {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(k, "\n"), strings.Join(want, "\n"))
			}
			for _, f := range fs {
				if f.Problem == "" || f.Fix == "" || f.Source == "" || len(f.FoundBy) == 0 {
					t.Errorf("incomplete finding %+v", f)
				}
				switch f.Rule {
				case "counter-total", "snake-case", "unit-abbreviation":
					if !slices.Equal(f.FoundBy, []string{ByHorus, ByPromlint}) {
						t.Errorf("%s %s found by %v, want horus and promlint merged", f.Metric, f.Rule, f.FoundBy)
					}
				case "high-cardinality-label", "id-like-values":
					if len(f.Examples) == 0 {
						t.Errorf("%s{%s}: no examples", f.Metric, f.Label)
					}
				case "cardinality":
					if !strings.Contains(f.Problem, "150 series") || !strings.Contains(f.Fix, "user_id") {
						t.Errorf("cardinality finding %q / %q", f.Problem, f.Fix)
					}
				}
			}
		})
	}
}

// TestMainExitStatus: the command's exit statuses and outputs, over HTTP,
// on files, on stdin.
func TestMainExitStatus(t *testing.T) {
	clean := prometheus.NewRegistry()
	clean.MustRegister(collectors.NewGoCollector())
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "orders_created_total", Help: "Orders."})
	clean.MustRegister(c)
	cleanSrv, badSrv := serve(t, clean), serve(t, badRegistry())
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	closed := closedPort(t)
	om, _ := os.ReadFile(filepath.Join("testdata", "bad.om"))

	cases := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string // in stdout
		stderr string // in stderr
	}{
		{"clean registry", []string{cleanSrv.URL}, "", ExitClean, "no problems", ""},
		{"bad registry", []string{badSrv.URL}, "", ExitProblems, "ordersCreatedTotal: snake-case:", ""},
		{"bad registry json", []string{"-format", "json", badSrv.URL}, "", ExitProblems, `"rule": "counter-total"`, ""},
		{"disabled rules", []string{"-disable", "snake-case,counter-total,unit-abbreviation,cardinality,high-cardinality-label,id-like-values", badSrv.URL}, "", ExitClean, "no problems", ""},
		{"max series raised", []string{"-max-series", "1000", "-format", "json", badSrv.URL}, "", ExitProblems, `"problem"`, ""},
		{"clean file", []string{filepath.Join("testdata", "clean.prom")}, "", ExitClean, "(text): 4 metric families, 6 series, no problems", ""},
		{"bad file", []string{filepath.Join("testdata", "bad.prom")}, "", ExitProblems, "10 problems in 8 of 8 metric families", ""},
		{"openmetrics on stdin", []string{"-"}, string(om), ExitProblems, "(openmetrics): 2 problems", ""},
		{"404", []string{notFound.URL}, "", ExitError, "", "404 Not Found"},
		{"nothing listening", []string{"-timeout", "5s", "http://" + closed + "/metrics"}, "", ExitError, "", "connection refused"},
		{"missing file", []string{"testdata/nope.prom"}, "", ExitError, "", "no such file"},
		{"not an exposition", []string{"-"}, "this is { not metrics\n", ExitError, "", "reading - as text"},
		{"openmetrics without EOF", []string{"-exposition", "openmetrics", "-"}, "# TYPE a gauge\na 1\n", ExitError, "", "reading - as openmetrics"},
		{"no target", nil, "", ExitError, "", "one URL, file or - is needed"},
		{"two targets", []string{"a", "b"}, "", ExitError, "", "got 2 arguments"},
		{"bad format", []string{"-format", "xml", "-"}, "", ExitError, "", "-format is text or json"},
		{"bad exposition", []string{"-exposition", "xml", "-"}, "", ExitError, "", "-exposition is auto"},
		{"unknown flag", []string{"-nope", "-"}, "", ExitError, "", "flag provided but not defined"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), c.args, strings.NewReader(c.stdin), &stdout, &stderr)
			if code != c.code || !strings.Contains(stdout.String(), c.stdout) || !strings.Contains(stderr.String(), c.stderr) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q in stdout, %q in stderr", code, c.code, stdout.String(), stderr.String(), c.stdout, c.stderr)
			}
		})
	}
}

// TestJSONReport: the JSON report has the counts and a findings array, empty
// (not null) when clean.
func TestJSONReport(t *testing.T) {
	var stdout bytes.Buffer
	if code := Main(context.Background(), []string{"-format", "json", filepath.Join("testdata", "clean.prom")}, nil, &stdout, &bytes.Buffer{}); code != ExitClean {
		t.Fatalf("exit %d", code)
	}
	var rep map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep["families"] != 4.0 || rep["series"] != 6.0 || rep["exposition"] != "text" {
		t.Errorf("report %v", rep)
	}
	if f, ok := rep["findings"].([]any); !ok || len(f) != 0 {
		t.Errorf("findings = %#v, want []", rep["findings"])
	}
}

// TestTestdataFindings: the files' findings, one by one, with the
// OpenMetrics conversion (counter family "x" with "x_total" samples, info,
// created samples, exemplars) read right.
func TestTestdataFindings(t *testing.T) {
	cases := map[string][]string{
		"bad.prom": {
			"shop_cart_items|id-like-values|cart",
			"shop_checkout_latency_ms|unit-abbreviation|",
			"shop_disk_usage_percent|base-unit|",
			"shop_logins_total|help|",
			"shop_logins_total|high-cardinality-label|user_id",
			"shop_ordersCreated|counter-total|",
			"shop_ordersCreated|snake-case|",
			"shop_payment_duration|missing-unit|",
			"shop_product_views_total|cardinality|",
			"shop_requests_total|id-like-values|handler",
		},
		"bad.om": {
			"shop_queue_depth_total|total-suffix|",
			"shop_sessions|high-cardinality-label|client_ip",
		},
		"clean.prom": nil,
	}
	for file, want := range cases {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		mfs, err := Parse(b, Sniff(b))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if got := keys(Lint(mfs, Options{})); !slices.Equal(got, want) {
			t.Errorf("%s:\n%s\nwant:\n%s", file, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if file == "bad.om" {
			names := map[string]string{}
			for _, mf := range mfs {
				names[mf.GetName()] = mf.GetType().String()
			}
			for n, typ := range map[string]string{"shop_orders_total": "COUNTER", "http_request_duration_seconds": "HISTOGRAM", "shop_build_info": "GAUGE", "shop_queue_depth_total": "GAUGE"} {
				if names[n] != typ {
					t.Errorf("bad.om: %s is %q, want %s (all: %v)", n, names[n], typ, names)
				}
			}
		}
	}
}

func TestIDLike(t *testing.T) {
	yes := map[string]IDKind{
		"5f0c6a4e-2b1d-4e8e-9a51-0d7c5d4c1e01": KindUUID,
		"4bf92f3577b34da6a3ce929d0e0e4736":     KindHex,
		"00f067aa0ba902b7":                     KindHex,
		"order-1234567":                        KindDigits,
		"ana@example.com":                      KindEmail,
		"10.0.0.7":                             KindIP,
		"[2001:db8::1]:443":                    KindIP,
		"/orders/42":                           KindPathID,
		"/users/5f0c6a4e-2b1d-4e8e-9a51-0d7c5d4c1e01/cart": KindUUID,
	}
	for v, k := range yes {
		if got, ok := IDLike(v); !ok || got != k {
			t.Errorf("IDLike(%q) = %q, %v; want %q", v, got, ok, k)
		}
	}
	for _, v := range []string{"GET", "200", "8080", "GET /orders/{id}", "/health", "2026-11-30", "eu-west-1", "payments-7d9f8b6c4-x2x9z", "deadbeefdeadbeef", "v1.25.0", "card"} {
		if k, ok := IDLike(v); ok {
			t.Errorf("IDLike(%q) = %q, want not an id", v, k)
		}
	}
}

func TestStoredSeries(t *testing.T) {
	b, _ := os.ReadFile(filepath.Join("testdata", "clean.prom"))
	mfs, err := Parse(b, FormatText)
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "http_request_duration_seconds" {
			if n := StoredSeries(mf); n != 5 { // 0.05, 0.5, +Inf, sum, count
				t.Errorf("stored series = %d, want 5", n)
			}
		}
	}
	// The same histogram from client_golang (+Inf implicit) counts the same.
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x_seconds", Help: "h", Buckets: []float64{0.05, 0.5}})
	h.Observe(1)
	reg.MustRegister(h)
	gathered, _ := reg.Gather()
	if n := StoredSeries(gathered[0]); n != 5 {
		t.Errorf("client_golang histogram: stored series = %d, want 5", n)
	}
}

// closedPort is a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// TestSDKRegistryLintsClean: what the SDK's factory lets through, the linter
// does not report: a registry built only through sdk/metrics (RED metrics,
// a work queue, client_golang's collectors through the checked Registerer)
// lints clean.
func TestSDKRegistryLintsClean(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := metrics.NewFactory(reg, metrics.Options{NativeHistograms: true})
	f.Registerer().MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewBuildInfoCollector())
	reqs := f.MustNewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."}, "method", "route", "status")
	dur := f.MustNewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Duration."}, "method", "route")
	inflight := f.MustNewGaugeVec(prometheus.GaugeOpts{Name: "http_requests_in_progress", Help: "In progress."}, "method", "route")
	for i := range 30 {
		route := fmt.Sprintf("GET /r%d/{id}", i%10)
		reqs.WithLabelValues("GET", route, "200").Inc()
		dur.WithLabelValues("GET", route).Observe(0.1)
		inflight.WithLabelValues("GET", route).Set(1)
	}
	q, err := metrics.NewQueue(f, "shop_email", metrics.QueueOptions{Capacity: 4})
	if err != nil {
		t.Fatal(err)
	}
	_ = q.Submit(context.Background(), func(context.Context) error { return nil })
	defer func() { _ = q.Shutdown(context.Background()) }()

	srv := serve(t, reg)
	for _, exposition := range []string{"protobuf", "text", "openmetrics"} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), []string{"-exposition", exposition, srv.URL}, nil, &stdout, &stderr); code != ExitClean {
			t.Errorf("%s: exit %d\n%s%s", exposition, code, stdout.String(), stderr.String())
		}
	}
}

// TestFormatsAgree: one registry read in each format gives the same
// families — name, type, help, series — the OpenMetrics reading included
// (client_golang's OpenMetrics has two families named go_memstats_alloc_bytes,
// a gauge and a counter, each with its own HELP before its TYPE).
func TestFormatsAgree(t *testing.T) {
	srv := serve(t, badRegistry())
	got := map[string][]string{}
	for _, accept := range []string{"protobuf", "text", "openmetrics"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		body, f, err := Fetch(ctx, srv.Client(), srv.URL, accept)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		mfs, err := Parse(body, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			got[accept] = append(got[accept], fmt.Sprintf("%s %s help=%q series=%d", mf.GetName(), mf.GetType(), mf.GetHelp(), len(mf.GetMetric())))
		}
		slices.Sort(got[accept])
	}
	if len(got["protobuf"]) < 40 {
		t.Fatalf("only %d families", len(got["protobuf"]))
	}
	for _, f := range []string{"text", "openmetrics"} {
		if !slices.Equal(got[f], got["protobuf"]) {
			for _, l := range got[f] {
				if !slices.Contains(got["protobuf"], l) {
					t.Errorf("%s only: %s", f, l)
				}
			}
			for _, l := range got["protobuf"] {
				if !slices.Contains(got[f], l) {
					t.Errorf("protobuf only (not %s): %s", f, l)
				}
			}
		}
	}
}
