// Package shop is the demo shop's services: an api-gateway, auth, orders,
// products (an SQLite catalogue), payments, fraud-check and notifications,
// each instrumented only through the Horus SDK, and two external providers
// that are not instrumented (bank-api, email-provider). Run runs one of
// them in the current process; `horus demo` runs each as its own process
// (`horus demo service NAME`), so each has its own process metrics.
//
// Every service applies the faults of a fault.Injector: Before at the
// start of each request, its listener closed while Refusing, and the
// service-specific ones (orders' pool, products' slow query). Each serves
// two listeners: the service's, and a management one with /metrics, the
// fault admin API (/faults) and /ready, which stays up while the service
// refuses connections, as a management port does.
package shop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/internal/demo/fault"
	"github.com/horus-obs/horus/sdk"
	"github.com/horus-obs/horus/sdk/logging"
)

// Config is one service process.
type Config struct {
	// Service is the service to run (Gateway, Auth, ...).
	Service string
	// Instance is the instance number, from 1; service.instance.id is
	// InstanceID(Service, Instance).
	Instance int
	// Version is service.version.
	Version string
	// Environment is deployment.environment.name.
	Environment string
	// Endpoint is the OTLP/HTTP base URL telemetry is sent to ("" sends
	// nothing). Ignored by the external providers.
	Endpoint string
	// Listener is the service's listening socket (a TCP listener's file,
	// inherited from the parent or bound by the caller).
	Listener *os.File
	// Admin is the management listening socket: /metrics, /faults, /ready.
	Admin *os.File
	// Peers are the addresses (host:port) of the services this one calls,
	// by service name; instance n is at index n-1.
	Peers map[string][]string
	// DataDir holds the SQLite databases (orders, products).
	DataDir string
	// LogWriter receives the JSON log lines (nil: os.Stderr).
	LogWriter io.Writer
}

// InstanceID is the service.instance.id of instance n of service:
// "payments-2". The demo's scrape configuration uses it as the instance
// label, so scraped series, OTLP resources, log streams and traces share
// one value.
func InstanceID(service string, n int) string { return service + "-" + strconv.Itoa(n) }

// ShutdownTimeout bounds the graceful stop of a service: draining its
// requests and flushing its telemetry.
const ShutdownTimeout = 5 * time.Second

// scope is the instrumentation scope of the shop's own spans.
const scope = "github.com/horus-obs/horus/internal/demo/shop"

// node is the part of a service process every service shares.
type node struct {
	cfg   Config
	id    string
	tel   *sdk.Telemetry // nil for the external providers
	log   *slog.Logger
	inj   *fault.Injector
	mux   *http.ServeMux
	ready atomic.Bool
}

// service is what a service adds to its node: routes, and what to release
// at the end.
type service interface {
	close() error
}

type builder func(ctx context.Context, n *node) (service, error)

var builders = map[string]builder{
	Gateway:       newGateway,
	Auth:          newAuth,
	Orders:        newOrders,
	Products:      newProducts,
	Payments:      newPayments,
	FraudCheck:    newFraudCheck,
	Notifications: newNotifications,
	BankAPI:       newBank,
	EmailProvider: newEmail,
}

// Services lists the services Run knows.
func Services() []string {
	return []string{Gateway, Auth, Orders, Products, Payments, FraudCheck, Notifications, BankAPI, EmailProvider}
}

// Run runs one service until ctx ends, then drains its requests and
// flushes its telemetry (within ShutdownTimeout each).
func Run(ctx context.Context, cfg Config) (err error) {
	build, ok := builders[cfg.Service]
	if !ok {
		return fmt.Errorf("unknown service %q", cfg.Service)
	}
	if cfg.Listener == nil || cfg.Admin == nil {
		return errors.New("shop: Config.Listener and Config.Admin are required")
	}
	if cfg.Instance < 1 {
		return fmt.Errorf("shop: instance %d: instances are numbered from 1", cfg.Instance)
	}
	if cfg.LogWriter == nil {
		cfg.LogWriter = os.Stderr
	}
	n := &node{cfg: cfg, id: InstanceID(cfg.Service, cfg.Instance), mux: http.NewServeMux()}
	var shutdownTel func(context.Context) error
	if Instrumented(cfg.Service) {
		n.tel, shutdownTel, err = sdk.Start(ctx, sdk.Config{
			Service:     cfg.Service,
			Version:     cfg.Version,
			Environment: cfg.Environment,
			InstanceID:  n.id,
			Endpoint:    cfg.Endpoint,
			LogWriter:   cfg.LogWriter,
			ExportLogs:  true,
		})
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
			defer cancel()
			err = errors.Join(err, shutdownTel(sctx))
		}()
		n.log = n.tel.Logger
		if err := registerTargetInfo(n.tel); err != nil {
			return err
		}
	} else {
		// The external providers are someone else's systems: plain JSON
		// logs on stderr, no trace context, nothing sent to Horus.
		n.log = slog.New(slog.NewJSONHandler(cfg.LogWriter, nil)).With("service", cfg.Service)
	}
	n.inj, err = newInjector(n)
	if err != nil {
		return err
	}
	defer n.inj.Close()

	svc, err := build(ctx, n)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.Service, err)
	}
	defer func() { err = errors.Join(err, svc.close()) }()
	return n.serve(ctx)
}

// newInjector makes the process' fault injector, its metrics on the
// service's registry when it has one.
func newInjector(n *node) (*fault.Injector, error) {
	inst := strconv.Itoa(n.cfg.Instance)
	if n.tel == nil {
		return fault.NewInjector(n.cfg.Service, inst, nil)
	}
	return fault.NewInjector(n.cfg.Service, inst, n.tel.Registry)
}

// serve serves the management and service listeners until ctx ends.
func (n *node) serve(ctx context.Context) error {
	adminLn, err := net.FileListener(n.cfg.Admin)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	errLog := log.New(io.Discard, "", 0)
	admin := &http.Server{Handler: n.adminMux(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	adminDone := make(chan error, 1)
	go func() { adminDone <- admin.Serve(adminLn) }()

	var handler http.Handler = n.mux
	if n.tel != nil {
		handler = n.tel.Middleware(n.mux)
	}
	ctl := &listenerControl{file: n.cfg.Listener, address: fileAddr(n.cfg.Listener), handler: handler, log: n.log, errLog: errLog}
	n.inj.OnChange(func() { _ = ctl.set(!n.inj.Refusing()) }) // set logs its errors
	if err := ctl.set(!n.inj.Refusing()); err != nil {
		_ = admin.Close()
		return err
	}
	n.ready.Store(true)
	n.log.Info("service started", "instance", n.id, "version", n.cfg.Version,
		"addr", ctl.address, "pid", os.Getpid())
	select {
	case <-ctx.Done():
	case err := <-adminDone:
		ctl.stop(context.Background())
		return fmt.Errorf("admin server: %w", err)
	}
	n.ready.Store(false)
	n.log.Info("service stopping", "instance", n.id)
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	ctl.stop(sctx)
	_ = admin.Shutdown(sctx)
	return nil
}

// adminMux is the management listener's handler: GET /ready (200 once
// serving), GET /metrics (the service's registry), the fault admin API.
func (n *node) adminMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		if !n.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if n.tel != nil {
		mux.Handle("GET /metrics", n.tel.MetricsHandler())
	}
	faults := n.inj.Handler()
	mux.Handle("/faults", faults)
	mux.Handle("/faults/", faults)
	return mux
}

// listenerControl serves the service listener, and stops listening while
// the process refuses connections (a refuse_connections fault): the
// server and its connections are closed and the socket stops listening,
// so connection attempts are refused (ECONNREFUSED) rather than queued;
// it listens again, on the same address, when the fault ends.
type listenerControl struct {
	file    *os.File
	address string // host:port
	handler http.Handler
	log     *slog.Logger
	errLog  *log.Logger

	mu      sync.Mutex
	srv     *http.Server // nil while refusing or stopped
	stopped bool
}

// fileAddr is the address a listening socket's file is bound to.
func fileAddr(f *os.File) string {
	ln, err := net.FileListener(f)
	if err != nil {
		return ""
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// set starts (accept) or stops (!accept) serving.
func (c *listenerControl) set(accept bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.stopped:
	case accept && c.srv == nil:
		if err := listenAgain(c.file); err != nil {
			c.log.Error("cannot listen again", "error", err)
			return err
		}
		ln, err := net.FileListener(c.file)
		if err != nil {
			c.log.Error("service listener", "error", err)
			return err
		}
		srv := &http.Server{Handler: c.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second, ErrorLog: c.errLog}
		c.srv = srv
		go func() { _ = srv.Serve(ln) }()
	case !accept && c.srv != nil:
		_ = c.srv.Close() // the listener and every connection, requests in flight included
		c.srv = nil
		if err := stopListening(c.file); err != nil {
			c.log.Error("cannot stop listening", "error", err)
			return err
		}
		c.log.Warn("refusing connections", "addr", c.address)
	}
	return nil
}

// stop drains the server (within ctx) and serves no more.
func (c *listenerControl) stop(ctx context.Context) {
	c.mu.Lock()
	srv := c.srv
	c.srv, c.stopped = nil, true
	c.mu.Unlock()
	if srv != nil {
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
	}
}

// httpError is an answer other than success, with the text to answer
// and, for a failed call, the call's error.
type httpError struct {
	status int
	msg    string
	cause  error
}

func (e *httpError) Error() string { return e.msg }
func (e *httpError) Unwrap() error { return e.cause }

// upstreamError is the answer to a request whose call to a peer failed:
// the status upstreamStatus gives, the message, and err as its cause.
func upstreamError(err error, format string, args ...any) error {
	return &httpError{status: upstreamStatus(err), msg: fmt.Sprintf(format, args...), cause: err}
}

func errStatus(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// handlerFunc is a route's handler; an error is answered (as JSON
// {"error": ...}, with its status: an *httpError's, else 500) and logged.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// The baggage members the api-gateway sets after authentication, which
// the SDK's propagator carries to every service downstream: the fault
// match attributes and the request's log fields come from them.
const (
	bagTenant = fault.AttrTenant        // "tenant"
	bagUser   = fault.AttrUser          // "user_id"
	bagMethod = fault.AttrPaymentMethod // "payment_method"
	bagItems  = "order_items"
)

// handle registers h for pattern: it takes the request's fields from the
// baggage (user_id, tenant_id as log fields once per request; user.id and
// tenant.id as span attributes), applies the faults, then runs h.
func (n *node) handle(pattern string, h handlerFunc) {
	n.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		attrs, items := n.requestFields(r.Context())
		if err := n.before(r, attrs, items); err != nil {
			n.answerError(w, r, err)
			return
		}
		if err := h(w, r); err != nil {
			n.answerError(w, r, err)
		}
	})
}

// handleRaw registers h for pattern without the fault step, for a
// handler that calls before itself once it knows the request's
// attributes (the api-gateway, after authentication).
func (n *node) handleRaw(pattern string, h handlerFunc) {
	n.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			n.answerError(w, r, err)
		}
	})
}

// requestFields reads the baggage of the request's context, adds user_id
// and tenant_id to its log fields and span, and returns the fault match
// attributes and the order's item count (0 if unknown).
func (n *node) requestFields(ctx context.Context) (map[string]string, int) {
	bag := baggage.FromContext(ctx)
	attrs := map[string]string{}
	for _, k := range []string{bagTenant, bagUser, bagMethod} {
		if v := bag.Member(k).Value(); v != "" {
			attrs[k] = v
		}
	}
	items, _ := strconv.Atoi(bag.Member(bagItems).Value())
	n.setFields(ctx, attrs[bagUser], attrs[bagTenant])
	return attrs, items
}

// setFields puts the user and tenant in the request's log fields
// (logging.AddFields) and on its server span.
func (n *node) setFields(ctx context.Context, user, tenant string) {
	var fields []slog.Attr
	span := trace.SpanFromContext(ctx)
	if user != "" {
		fields = append(fields, slog.String("user_id", user))
		span.SetAttributes(attribute.String("user.id", user))
	}
	if tenant != "" {
		fields = append(fields, slog.String("tenant_id", tenant))
		span.SetAttributes(attribute.String("tenant.id", tenant))
	}
	if len(fields) > 0 {
		logging.AddFields(ctx, fields...)
	}
}

// before applies the process' latency and error faults to the request.
func (n *node) before(r *http.Request, attrs map[string]string, items int) error {
	err := n.inj.Before(r.Context(), fault.Request{Route: r.Pattern, Attrs: attrs, Items: items})
	var se *fault.StatusError
	if errors.As(err, &se) {
		return &httpError{status: se.Status, msg: se.Message}
	}
	return err
}

// answerError answers err and logs it: at error level for a 5xx, at
// warn for a 4xx.
func (n *node) answerError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, err.Error()
	var he *httpError
	if errors.As(err, &he) {
		status = he.status
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		status, msg = 499, "client went away" // nginx's code for it; nobody reads the answer
	}
	level := slog.LevelError
	if status < 500 {
		level = slog.LevelWarn
	}
	attrs := []any{"status", status, "route", r.Pattern}
	var ce *callError
	if errors.As(err, &ce) {
		// The failure came from a call: name the callee, as call's own
		// line does.
		attrs = append(attrs, "peer", ce.peer, "peer_instance", ce.instance)
	}
	n.log.Log(r.Context(), level, "request failed: "+msg, attrs...)
	writeJSON(w, status, map[string]string{"error": msg})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// maxRequestBody bounds a request body the services read.
const maxRequestBody = 1 << 20

// readJSON decodes r's body into v; a bad body is a 400.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err := dec.Decode(v); err != nil {
		return errStatus(http.StatusBadRequest, "bad request body: %v", err)
	}
	return nil
}

// noClose is a service with nothing to release.
type noClose struct{}

func (noClose) close() error { return nil }
