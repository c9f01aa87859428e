package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/horus-obs/horus/internal/config"
)

// TestDefaultListenersAreLoopback binds the default addresses (ports made
// 0) and checks that every listener is on the loopback interface only.
func TestDefaultListenersAreLoopback(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	for _, a := range []*string{&cfg.HTTPAddr, &cfg.OTLP.GRPCAddr, &cfg.OTLP.HTTPAddr} {
		host, _, err := net.SplitHostPort(*a)
		if err != nil {
			t.Fatal(err)
		}
		if host != "localhost" {
			t.Errorf("default address %q: want localhost", *a)
		}
		*a = net.JoinHostPort(host, "0")
	}
	a, warnings := bindOnly(t, cfg)
	for name, addr := range map[string]string{"http": a.HTTP, "otlp grpc": a.OTLPGRPC, "otlp http": a.OTLPHTTP} {
		host, _, _ := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Errorf("%s listener bound to %s, want a loopback address", name, addr)
		}
	}
	if len(warnings) > 0 {
		t.Errorf("warnings on loopback listeners: %q", warnings)
	}
}

// bindOnly makes a server of cfg (its listeners bound, not serving), closes
// it, and returns its addresses and the warnings it logged.
func bindOnly(t *testing.T, cfg *config.Config) (Addrs, []string) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	srv, err := New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	var warnings []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") {
			warnings = append(warnings, l)
		}
	}
	return srv.Addrs(), warnings
}

// TestExposedWarning checks the startup warning for a listener bound to
// every interface without authentication, and its absence with basic auth.
func TestExposedWarning(t *testing.T) {
	webCfg := writeWebConfig(t, t.TempDir(), false)
	for _, c := range []struct {
		name, webConfig string
		warn            bool
	}{{"no auth", "", true}, {"basic auth", webCfg, false}} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			cfg.HTTPAddr = "0.0.0.0:0"
			cfg.OTLP.GRPCAddr = "127.0.0.1:0"
			cfg.OTLP.HTTPAddr = ""
			cfg.Web.ConfigFile = c.webConfig
			a, warnings := bindOnly(t, cfg)
			if !c.warn {
				if len(warnings) > 0 {
					t.Errorf("warnings with basic auth: %q", warnings)
				}
				return
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], "without authentication") ||
				!strings.Contains(warnings[0], "listener=http_addr") || !strings.Contains(warnings[0], "address="+a.HTTP) {
				t.Errorf("warnings = %q, want one naming http_addr on %s", warnings, a.HTTP)
			}
		})
	}
}

// TestPprofOffByDefault: no profiler unless web.enable_pprof.
func TestPprofOffByDefault(t *testing.T) {
	ts := startServer(t, "")
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/profile?seconds=1"} {
		resp, err := http.Get(ts.URL() + p)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
}

// TestCrossOriginWrites posts what a web page can send anywhere without a
// CORS preflight to every write endpoint: each is refused with 415 naming
// the types it takes, and nothing is stored. A JSON lines post with its
// own Content-Type is taken.
func TestCrossOriginWrites(t *testing.T) {
	ts := startServer(t, "")
	const evil = "https://evil.example"
	line := []byte(`{"msg":"from a web page","service":"web"}` + "\n")
	for _, ct := range []string{"text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		for _, u := range []string{
			ts.URL() + "/api/v1/logs/jsonl?env=prod",
			ts.URL() + "/loki/api/v1/push",
			ts.URL() + "/api/v2/spans",
			ts.URL() + "/api/v1/write",
			ts.URL() + "/otlp/v1/logs",
			"http://" + ts.Addrs().OTLPHTTP + "/v1/traces",
		} {
			req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(line))
			req.Header.Set("Origin", evil)
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(string(body), "send application/") {
				t.Errorf("POST %s (%q) from %s: %d %q, want 415 naming the accepted types", u, ct, evil, resp.StatusCode, body)
			}
			if o := resp.Header.Get("Access-Control-Allow-Origin"); o != "" {
				t.Errorf("POST %s: Access-Control-Allow-Origin %q", u, o)
			}
		}
	}
	if n := ts.selfMetric(t, "horus_ingest_received_total", map[string]string{"protocol": "jsonlines"}); n != 0 {
		t.Errorf("%v JSON lines stored from refused posts", n)
	}
	if n := ts.selfMetric(t, "horus_ingest_rejected_total", map[string]string{"protocol": "jsonlines", "reason": "unsupported_media_type"}); n != 4 {
		t.Errorf("jsonlines unsupported_media_type rejections = %v, want 4", n)
	}
	if r := lokiRange(t, ts, `{env="prod"}`, nil); len(r.Data.Result) != 0 {
		t.Errorf("refused lines are queryable: %+v", r.Data.Result)
	}

	// curl --data-binary's default type is refused, with a hint; with the
	// type the docs give, the line is stored.
	expectPost(t, ts.URL()+"/api/v1/logs/jsonl?env=prod", line, map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		http.StatusUnsupportedMediaType, "-H 'Content-Type: ...'")
	expectPost(t, ts.URL()+"/api/v1/logs/jsonl?env=prod", line, map[string]string{"Content-Type": "application/x-ndjson"}, http.StatusOK, `"accepted":1`)
	if r := lokiRange(t, ts, `{env="prod"}`, nil); len(r.Data.Result) != 1 {
		t.Errorf("the accepted line is not queryable: %+v", r.Data.Result)
	}
}

// TestCORS checks that no origin is allowed by default, Prometheus' API
// included (which allows every origin in Prometheus), and that a
// configured origin is, preflight included.
func TestCORS(t *testing.T) {
	const grafana, evil = "https://grafana.example.com", "https://evil.example"
	do := func(t *testing.T, method, u, origin string, header map[string]string) answer {
		t.Helper()
		req, _ := http.NewRequest(method, u, nil)
		req.Header.Set("Origin", origin)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return answer{resp.StatusCode, resp.Header}
	}
	preflight := map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-scope-orgid"}
	reads := []string{"/api/v1/query?query=1", "/api/v1/labels", "/loki/api/v1/labels", "/api/search/tags", "/-/ready"}

	t.Run("default", func(t *testing.T) {
		ts := startServer(t, "")
		for _, origin := range []string{grafana, evil} {
			for _, p := range reads {
				if resp := do(t, http.MethodGet, ts.URL()+p, origin, nil); resp.Header.Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("GET %s from %s: Access-Control-Allow-Origin %q", p, origin, resp.Header.Get("Access-Control-Allow-Origin"))
				}
			}
			resp := do(t, http.MethodOptions, ts.URL()+"/api/v1/logs/jsonl", origin, preflight)
			if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Methods") != "" {
				t.Errorf("preflight from %s allowed: %v", origin, resp.Header)
			}
		}
		// A websocket, which CORS does not cover, from another site.
		tail := ts.URL() + "/loki/api/v1/tail?" + url.Values{"query": {`{env="prod"}`}}.Encode()
		ws := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
		if resp := do(t, http.MethodGet, tail, evil, ws); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin tail websocket: %d, want 403", resp.StatusCode)
		}
	})

	t.Run("one origin", func(t *testing.T) {
		ts := startServer(t, "", func(c *config.Config) { c.Web.CORS.AllowedOrigins = []string{grafana} })
		for _, p := range reads {
			resp := do(t, http.MethodGet, ts.URL()+p, grafana, nil)
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != grafana {
				t.Errorf("GET %s from %s: Access-Control-Allow-Origin %q", p, grafana, got)
			}
			if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
				t.Errorf("GET %s: no Vary: Origin", p)
			}
			if resp := do(t, http.MethodGet, ts.URL()+p, evil, nil); resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("GET %s from %s: Access-Control-Allow-Origin %q", p, evil, resp.Header.Get("Access-Control-Allow-Origin"))
			}
		}
		resp := do(t, http.MethodOptions, ts.URL()+"/api/v1/logs/jsonl", grafana, preflight)
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != grafana ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type") ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "X-Scope-OrgID") {
			t.Errorf("preflight from %s: %d %v", grafana, resp.StatusCode, resp.Header)
		}
		if resp := do(t, http.MethodOptions, ts.URL()+"/api/v1/logs/jsonl", evil, preflight); resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %s allowed: %v", evil, resp.Header)
		}
		// The allowed page's write is taken.
		req, _ := http.NewRequest(http.MethodPost, ts.URL()+"/api/v1/logs/jsonl", strings.NewReader(`{"msg":"hi"}`+"\n"))
		req.Header.Set("Origin", grafana)
		req.Header.Set("Content-Type", "application/x-ndjson")
		wr, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = wr.Body.Close()
		if wr.StatusCode != http.StatusOK || wr.Header.Get("Access-Control-Allow-Origin") != grafana {
			t.Errorf("JSON lines from %s: %d, Access-Control-Allow-Origin %q", grafana, wr.StatusCode, wr.Header.Get("Access-Control-Allow-Origin"))
		}
	})
}

// TestWebConfig serves every listener with a web configuration file (TLS
// with a certificate made here, and basic auth): each refuses a request
// without credentials and serves one with them, OTLP/gRPC through the
// OpenTelemetry SDK's exporter. Without TLS, basic auth alone holds on
// OTLP/gRPC too (HTTP/2 without TLS).
func TestWebConfig(t *testing.T) {
	for _, withTLS := range []bool{true, false} {
		name := map[bool]string{true: "tls and basic auth", false: "basic auth"}[withTLS]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			webCfg := writeWebConfig(t, dir, withTLS)
			ts := startWebServer(t, func(c *config.Config) {
				c.Web.ConfigFile = webCfg
				c.Web.EnablePprof = true
			})
			scheme, client := "http://", http.DefaultClient
			var creds credentials.TransportCredentials
			if withTLS {
				pool := x509.NewCertPool()
				pem, err := os.ReadFile(filepath.Join(dir, "cert.pem"))
				if err != nil {
					t.Fatal(err)
				}
				pool.AppendCertsFromPEM(pem)
				tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
				scheme, client = "https://", &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
				creds = credentials.NewTLS(tc)
			}
			a := ts.Addrs()
			otlpBody := []byte{} // an empty ExportTraceServiceRequest
			for _, c := range []struct {
				method, url string
				body        []byte
				ctype       string
			}{
				{http.MethodGet, scheme + a.HTTP + "/api/v1/status/buildinfo", nil, ""},
				{http.MethodGet, scheme + a.HTTP + "/debug/pprof/cmdline", nil, ""},
				{http.MethodPost, scheme + a.HTTP + "/otlp/v1/traces", otlpBody, "application/x-protobuf"},
				{http.MethodPost, scheme + a.OTLPHTTP + "/v1/traces", otlpBody, "application/x-protobuf"},
			} {
				for _, auth := range []struct {
					user, pass string
					code       int
				}{{"", "", 401}, {"horus", "wrong", 401}, {"nobody", "s3cret", 401}, {"horus", "s3cret", 200}} {
					req, _ := http.NewRequest(c.method, c.url, bytes.NewReader(c.body))
					if c.ctype != "" {
						req.Header.Set("Content-Type", c.ctype)
					}
					if auth.user != "" {
						req.SetBasicAuth(auth.user, auth.pass)
					}
					resp, err := client.Do(req)
					if err != nil {
						t.Fatalf("%s %s: %v", c.method, c.url, err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != auth.code {
						t.Errorf("%s %s as %q/%q: %d, want %d", c.method, c.url, auth.user, auth.pass, resp.StatusCode, auth.code)
					}
				}
			}
			if withTLS {
				// Plain HTTP to a TLS listener is not served.
				if resp, err := http.Get("http://" + a.HTTP + "/-/ready"); err == nil {
					_ = resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						t.Error("plain HTTP served on a TLS listener")
					}
				}
			}

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			export := func(header map[string]string) error {
				opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(a.OTLPGRPC), otlptracegrpc.WithHeaders(header),
					otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}), otlptracegrpc.WithTimeout(10 * time.Second)}
				if creds != nil {
					opts = append(opts, otlptracegrpc.WithTLSCredentials(creds))
				} else {
					opts = append(opts, otlptracegrpc.WithInsecure())
				}
				exp, err := otlptracegrpc.New(ctx, opts...)
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = exp.Shutdown(context.Background()) }()
				return exp.ExportSpans(ctx, testSpans())
			}
			basic := func(user, pass string) map[string]string {
				return map[string]string{"authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
			}
			for _, h := range []map[string]string{nil, basic("horus", "wrong")} {
				if err := export(h); status.Code(err) != codes.Unauthenticated {
					t.Errorf("OTLP/gRPC export with %v: %v, want Unauthenticated", h, err)
				}
			}
			if err := export(basic("horus", "s3cret")); err != nil {
				t.Fatalf("OTLP/gRPC export with credentials: %v", err)
			}
			if n := ts.selfMetric(t, "horus_ingest_received_total", map[string]string{"protocol": "otlp_grpc", "signal": "traces"}); n != 1 {
				t.Errorf("spans received over OTLP/gRPC = %v, want 1", n)
			}
		})
	}
}

// testSpans is one finished span for an exporter.
func testSpans() []sdktrace.ReadOnlySpan {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	now := time.Now()
	return tracetest.SpanStubs{{
		Name:                 "GET /secure",
		SpanContext:          trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}),
		SpanKind:             trace.SpanKindServer,
		StartTime:            now.Add(-time.Second),
		EndTime:              now,
		Resource:             resource.Empty(),
		InstrumentationScope: instrumentation.Scope{Name: "test"},
	}}.Snapshots()
}

// writeWebConfig writes a web configuration file into dir: basic auth for
// horus/s3cret, and with withTLS a self-signed certificate for 127.0.0.1
// (dir/cert.pem, dir/key.pem, named relative to the file). It returns the
// file's path.
func writeWebConfig(t *testing.T, dir string, withTLS bool) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := "basic_auth_users:\n  horus: " + string(hash) + "\n"
	if withTLS {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "horus test"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:     []string{"localhost"},
			IsCA:         true, BasicConstraintsValid: true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		for name, block := range map[string]*pem.Block{"cert.pem": {Type: "CERTIFICATE", Bytes: der}, "key.pem": {Type: "EC PRIVATE KEY", Bytes: kder}} {
			if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cfg += "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
	}
	path := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startWebServer runs Horus on loopback ports as startServer does, for a
// configuration whose listeners startServer's plain-HTTP readiness check
// cannot reach (TLS, basic auth). It returns once the listeners accept.
func startWebServer(t *testing.T, mutate func(*config.Config)) *testServer {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.OTLP.GRPCAddr, cfg.OTLP.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	mutate(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("server did not stop within 30s")
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for !srv.ready.Load() {
		if time.Now().After(deadline) {
			t.Fatal("server not ready within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &testServer{Server: srv, cfg: cfg}
}

// TestWebConfigHTTP2Off: OTLP/gRPC over TLS needs HTTP/2, so a web
// configuration turning it off is refused while OTLP/gRPC is on.
func TestWebConfigHTTP2Off(t *testing.T) {
	dir := t.TempDir()
	path := writeWebConfig(t, dir, true)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("http_server_config:\n  http2: false\n")
	_ = f.Close()
	cfg := config.Default()
	cfg.Web.ConfigFile = path
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "web.config_file") || !strings.Contains(err.Error(), "HTTP/2") {
		t.Errorf("Validate = %v; want an error naming web.config_file and HTTP/2", err)
	}
	cfg.OTLP.GRPCAddr = ""
	if err := cfg.Validate(); err != nil {
		t.Errorf("without OTLP/gRPC: %v", err)
	}
}
