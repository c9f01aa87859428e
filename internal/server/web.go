package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/prometheus/exporter-toolkit/web"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/ingest"
)

// This file is who may talk to Horus, and how: the web configuration file
// (TLS, basic auth) on every listener, the CORS policy, and the refusal of
// writes a web page could send cross-origin.
//
// A browser lets any page it shows send a "simple" request to any address
// (GET, or POST with a Content-Type of text/plain,
// application/x-www-form-urlencoded or multipart/form-data) without asking
// the server first; CORS only decides whether the page may read the
// answer. A page could so write into a Horus on localhost unless the
// write endpoints refuse those types, which the clients they are for
// (Prometheus, the OpenTelemetry SDKs and Collector, Promtail, Alloy,
// zipkin reporters) do not send. Any other type makes the browser ask
// first (a CORS preflight), which Horus answers only for
// web.cors.allowed_origins.

// serveWeb serves srv on ln through exporter-toolkit, which applies the web
// configuration file (if any): TLS, basic auth, rate limit and headers,
// re-read on each request and handshake.
func (s *Server) serveWeb(srv *http.Server, ln net.Listener) error {
	path := s.cfg.Web.ConfigFile
	return web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &path}, s.logger.With("component", "web"))
}

// grpcWebOptions returns the gRPC server options that apply the web
// configuration file to OTLP/gRPC as web.Serve applies it to the HTTP
// listeners: TLS credentials from tls_server_config (re-read on each
// handshake), and interceptors that pass each call through
// exporter-toolkit's own request check (basic auth on the authorization
// metadata, the rate limit). Without a file there are none.
func (s *Server) grpcWebOptions() ([]grpc.ServerOption, error) {
	path := s.cfg.Web.ConfigFile
	if path == "" {
		return nil, nil
	}
	c, err := config.ParseWebFile(path)
	if err != nil {
		return nil, err
	}
	check, err := newWebCheck(path)
	if err != nil {
		return nil, err
	}
	opts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(check.unary), grpc.ChainStreamInterceptor(check.stream)}
	if c.TLSConfig.IsEnabled() {
		tc, err := grpcTLSConfig(path)
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	return opts, nil
}

// grpcTLSConfig is the TLS configuration of the web configuration file at
// path for a gRPC server: HTTP/2 only, and read again on each handshake.
func grpcTLSConfig(path string) (*tls.Config, error) {
	load := func() (*tls.Config, error) {
		c, err := config.ParseWebFile(path)
		if err != nil {
			return nil, err
		}
		tc, err := web.ConfigToTLSConfig(&c.TLSConfig)
		if err != nil {
			return nil, err
		}
		tc.NextProtos = []string{"h2"}
		return tc, nil
	}
	tc, err := load()
	if err != nil {
		return nil, err
	}
	tc.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return load() }
	return tc, nil
}

// webCheck is exporter-toolkit's request check: basic auth against
// basic_auth_users (bcrypt, with its cache of results and a hash compared
// for unknown users too, so that they take as long) and the rate limit,
// with the file read on each request.
// exporter-toolkit exports it only inside web.Serve, which wraps the
// handler of the server it is given in it before serving; so it is taken
// from a server "served" on a listener that is already closed, rather than
// written a second time here.
type webCheck struct{ h http.Handler }

// passed is the handler behind the check: it answers 204 to what the
// check let through.
var passed = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

func newWebCheck(path string) (*webCheck, error) {
	srv := &http.Server{Handler: passed}
	_ = web.Serve(closedListener{}, srv, &web.FlagConfig{WebConfigFile: &path}, slog.New(slog.DiscardHandler))
	if _, same := srv.Handler.(http.HandlerFunc); same {
		// Fail closed should a later exporter-toolkit serve differently.
		return nil, errors.New("exporter-toolkit did not install its request check: OTLP/gRPC cannot apply the web configuration")
	}
	return &webCheck{h: srv.Handler}, nil
}

// check runs the call's authorization metadata through the check.
func (c *webCheck) check(ctx context.Context, method string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, method, http.NoBody)
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		req.Header.Add("Authorization", v)
	}
	var w statusRecorder
	c.h.ServeHTTP(&w, req)
	switch w.code {
	case http.StatusNoContent:
		return nil
	case http.StatusUnauthorized:
		return status.Error(codes.Unauthenticated, "missing or wrong basic auth credentials (the authorization metadata, checked against basic_auth_users of the web configuration file)")
	case http.StatusTooManyRequests:
		return status.Error(codes.Unavailable, "rate limited by the web configuration file's rate_limit")
	}
	return status.Errorf(codes.Internal, "web configuration file: %d %s", w.code, http.StatusText(w.code))
}

func (c *webCheck) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := c.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (c *webCheck) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := c.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return h(srv, ss)
}

// statusRecorder is a response writer that keeps only the status code.
type statusRecorder struct {
	header http.Header
	code   int
}

func (r *statusRecorder) Header() http.Header {
	if r.header == nil {
		r.header = http.Header{}
	}
	return r.header
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return len(b), nil
}

// closedListener is a listener that accepts nothing.
type closedListener struct{}

func (closedListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (closedListener) Close() error              { return nil }
func (closedListener) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// warnExposed logs a warning for each listener bound beyond the loopback
// interface while the web configuration does not authenticate requests:
// whoever reaches it can read and write everything.
func (s *Server) warnExposed() error {
	auth := false
	if s.cfg.Web.ConfigFile != "" {
		f, err := config.ReadWebFile(s.cfg.Web.ConfigFile)
		if err != nil {
			return fmt.Errorf("web.config_file: %w", err)
		}
		auth = f.Authenticates
	}
	if auth {
		return nil
	}
	for _, l := range []struct {
		name string
		ln   net.Listener
	}{{"http_addr", s.httpLn}, {"otlp.http_addr", s.otlpHTTPLn}, {"otlp.grpc_addr", s.otlpGRPCLn}} {
		if l.ln == nil {
			continue
		}
		if a, ok := l.ln.Addr().(*net.TCPAddr); ok && a.IP.IsLoopback() {
			continue
		}
		s.logger.Warn("listening beyond the loopback interface without authentication: anyone who can reach this address can read and write all data; "+
			"set basic_auth_users in a web configuration file (--web.config.file), or listen on localhost",
			"listener", l.name, "address", l.ln.Addr().String())
	}
	return nil
}

// corsHeaders are the request headers a page of an allowed origin may send.
var corsHeaders = []string{"Accept", "Authorization", "Content-Type", "Content-Encoding",
	"X-Scope-OrgID", "X-Prometheus-Remote-Write-Version", "User-Agent"}

// browserPolicy is the CORS policy of an HTTP listener: the only one, as
// the handlers behind it never see a request's Origin (Prometheus' API
// would otherwise allow every origin, as Prometheus does by default).
type browserPolicy struct {
	cors         config.CORSConfig
	allowHeaders string
}

func newBrowserPolicy(c config.CORSConfig) *browserPolicy {
	return &browserPolicy{cors: c, allowHeaders: strings.Join(append(append([]string(nil), corsHeaders...), c.AllowedHeaders...), ", ")}
}

// wrap applies the policy in front of next. A request of an allowed
// origin gets Access-Control-Allow-Origin, and a preflight is answered
// here; any other origin gets no CORS header, so its page cannot read the
// answer, and a websocket from it (which CORS does not cover) is refused.
func (p *browserPolicy) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		if len(p.cors.AllowedOrigins) > 0 {
			w.Header().Add("Vary", "Origin")
		}
		allowed := p.cors.AllowsOrigin(origin)
		if !allowed && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && !sameHost(origin, r.Host) {
			http.Error(w, fmt.Sprintf("a websocket from origin %q is refused: it is not in web.cors.allowed_origins", origin), http.StatusForbidden)
			return
		}
		if allowed {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "Date")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", p.allowHeaders)
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		r2 := r.WithContext(context.WithValue(r.Context(), originKey{}, origin))
		r2.Header = r.Header.Clone()
		r2.Header.Del("Origin")
		next.ServeHTTP(w, r2)
	})
}

// originKey is the context key of the Origin a browser policy took off a
// request.
type originKey struct{}

// requestOrigin is the request's Origin header, or the one the browser
// policy took off it.
func requestOrigin(r *http.Request) string {
	if o, ok := r.Context().Value(originKey{}).(string); ok {
		return o
	}
	return r.Header.Get("Origin")
}

// sameHost reports whether origin names the host the request was sent to
// (ports aside), as a page Horus served itself would.
func sameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Hostname() == "" {
		return false
	}
	hh, _, err := net.SplitHostPort(host)
	if err != nil {
		hh = host
	}
	return strings.EqualFold(u.Hostname(), strings.Trim(hh, "[]"))
}

// writeEndpoint is an ingest endpoint as the write guard names it.
type writeEndpoint struct {
	// signal is the ingest signal; "" takes it from an OTLP path's
	// /v1/<signal>.
	signal, protocol string
	// accepts names the Content-Types the endpoint takes.
	accepts string
}

// Each write endpoint of the HTTP listeners.
var (
	remoteWriteEndpoint = writeEndpoint{ingest.SignalMetrics, ingest.ProtoRemoteWrite, "application/x-protobuf"}
	otlpHTTPEndpoint    = writeEndpoint{"", ingest.ProtoOTLPHTTP, "application/x-protobuf or application/json"}
	lokiPushEndpoint    = writeEndpoint{ingest.SignalLogs, ingest.ProtoLokiPush, "application/x-protobuf (snappy) or application/json"}
	jsonLinesEndpoint   = writeEndpoint{ingest.SignalLogs, ingest.ProtoJSONLines, "application/x-ndjson (or application/jsonl, application/json)"}
	zipkinEndpoint      = writeEndpoint{ingest.SignalTraces, ingest.ProtoZipkin, "application/json"}
)

// refuseSimple answers 415 to a POST whose Content-Type a web page may send
// to any address without a CORS preflight (text/plain,
// application/x-www-form-urlencoded, multipart/form-data; or none, from a
// browser, which says so with an Origin header), and counts it as an
// unsupported_media_type rejection of e. Other requests go to next.
func refuseSimple(next http.Handler, im *ingest.Metrics, e writeEndpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		ct := r.Header.Get("Content-Type")
		mt, _, _ := strings.Cut(ct, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		var why string
		switch {
		case mt == "text/plain" || mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data":
			why = fmt.Sprintf("Content-Type %q is refused on write endpoints (any web page can send it to any address, and so into your Horus)", ct)
		case ct == "" && requestOrigin(r) != "":
			why = "a write from a web page without a Content-Type is refused (any web page can send it to any address, and so into your Horus)"
		default:
			next.ServeHTTP(w, r)
			return
		}
		signal := e.signal
		if signal == "" {
			if signal = otlpSignal(r.URL.Path); signal == "" {
				next.ServeHTTP(w, r) // not an OTLP endpoint: a 404
				return
			}
		}
		im.Reject(signal, e.protocol, ingest.ReasonUnsupportedMedia, 1)
		im.Requests.WithLabelValues(signal, e.protocol, strconv.Itoa(http.StatusUnsupportedMediaType)).Inc()
		hint := ""
		if mt == "application/x-www-form-urlencoded" {
			hint = " (curl -d and --data-binary send application/x-www-form-urlencoded unless given -H 'Content-Type: ...')"
		}
		http.Error(w, why+"; send "+e.accepts+hint, http.StatusUnsupportedMediaType)
	})
}

// otlpSignal is the signal of an OTLP/HTTP path (metrics, traces or logs),
// or "" for another path.
func otlpSignal(path string) string {
	switch {
	case strings.HasSuffix(path, "/v1/metrics"):
		return ingest.SignalMetrics
	case strings.HasSuffix(path, "/v1/traces"):
		return ingest.SignalTraces
	case strings.HasSuffix(path, "/v1/logs"):
		return ingest.SignalLogs
	}
	return ""
}
