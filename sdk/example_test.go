package sdk_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/horus-obs/horus/sdk"
)

// Instrument a net/http service: Start, wrap the ServeMux, log with the
// request's context, serve /metrics. (Endpoint would be Horus' OTLP/HTTP
// address, "http://127.0.0.1:4318"; without it nothing is exported.)
func Example() {
	ctx := context.Background()
	tel, shutdown, err := sdk.Start(ctx, sdk.Config{Service: "shopfront", Version: "1.0.0", LogWriter: io.Discard})
	if err != nil {
		panic(err)
	}
	defer func() { _ = shutdown(ctx) }()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		tel.Logger.InfoContext(r.Context(), "item viewed", "item_id", r.PathValue("id"))
		fmt.Fprintln(w, "item", r.PathValue("id"))
	})
	mux.Handle("GET /metrics", tel.MetricsHandler())
	srv := httptest.NewServer(tel.Middleware(mux))
	defer srv.Close()

	for _, id := range []string{"1", "2", "3"} {
		resp, err := http.Get(srv.URL + "/items/" + id)
		if err != nil {
			panic(err)
		}
		_ = resp.Body.Close()
	}
	printSeries(tel.Registry, "http_requests_total")
	// Output:
	// http_requests_total{method="GET",route="/items/{id}",status="200"} 3
}

// The route of a request served without a ServeMux pattern.
func ExampleNormalizePath() {
	for _, p := range []string{
		"/users/42/orders/9f0c8a1e-5b7d-4c1e-9a3f-2b8e6d4c7a10",
		"/blobs/5d41402abc4b2a76b9719d911017c592",
		"/files/report.pdf",
		"",
	} {
		fmt.Println(sdk.NormalizePath(p))
	}
	// Output:
	// /users/{id}/orders/{uuid}
	// /blobs/{hex}
	// /files/report.pdf
	// /
}

// Call another service: the client span names the peer, the trace context
// goes along, and the call is timed by peer, method and status.
func ExampleTelemetry_Client() {
	ctx := context.Background()
	tel, shutdown, err := sdk.Start(ctx, sdk.Config{Service: "checkout", LogWriter: io.Discard})
	if err != nil {
		panic(err)
	}
	defer func() { _ = shutdown(ctx) }()

	bank := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "traceparent sent:", r.Header.Get("traceparent") != "")
	}))
	defer bank.Close()

	ctx, span := tel.Tracer("example.com/checkout").Start(ctx, "pay")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, bank.URL+"/charge", nil)
	resp, err := tel.Client("bank-api").Do(req)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	span.End()

	fmt.Print(string(body))
	printSeries(tel.Registry, "http_client_request_duration_seconds")
	// Output:
	// traceparent sent: true
	// http_client_request_duration_seconds{method="POST",peer="bank-api",status="200"} 1
}

// printSeries prints each series of a counter (its value) or a histogram
// (its count).
func printSeries(g prometheus.Gatherer, name string) {
	got, err := gatherSeries(g, name)
	if err != nil {
		panic(err)
	}
	for _, k := range sortedKeys(got) {
		m := got[k]
		v := m.GetCounter().GetValue()
		if h := m.GetHistogram(); h != nil {
			v = float64(h.GetSampleCount())
		}
		fmt.Printf("%s{%s} %v\n", name, k, v)
	}
}
