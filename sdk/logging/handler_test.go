package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/sdk/redact"
)

// lines is a concurrency-safe writer that collects JSON lines.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// parse decodes every line written so far.
func (l *lines) parse(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(l.buf.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// one decodes the single line written so far.
func (l *lines) one(t *testing.T) map[string]any {
	t.Helper()
	ms := l.parse(t)
	if len(ms) != 1 {
		t.Fatalf("want 1 line, got %d: %s", len(ms), l.buf.String())
	}
	return ms[0]
}

func defaultRedactor(t testing.TB) *redact.Redactor {
	t.Helper()
	r, err := redact.New(redact.Default())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newLogger logs JSON lines into a fresh buffer with the default redactor.
func newLogger(t *testing.T, opts Options) (*slog.Logger, *lines) {
	t.Helper()
	if opts.Redactor == nil {
		opts.Redactor = defaultRedactor(t)
	}
	w := &lines{}
	return slog.New(NewJSONHandler(w, opts)), w
}

// TestTraceIDs: a line logged inside a span carries that span's trace and
// span ids in lower-case hex; outside a span, or with an invalid span
// context, neither key is written.
func TestTraceIDs(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, span := tp.Tracer("test").Start(context.Background(), "parent")
	ctx2, child := tp.Tracer("test").Start(ctx, "child")

	log, w := newLogger(t, Options{})
	log.InfoContext(ctx2, "in child")
	log.InfoContext(ctx, "in parent")
	log.InfoContext(context.Background(), "no span")
	log.InfoContext(trace.ContextWithSpanContext(context.Background(), trace.SpanContext{}), "invalid span")
	child.End()
	span.End()

	ms := w.parse(t)
	if len(ms) != 4 {
		t.Fatalf("want 4 lines, got %d", len(ms))
	}
	for i, s := range []trace.Span{child, span} {
		sc := s.SpanContext()
		if got, want := ms[i][TraceIDKey], sc.TraceID().String(); got != want {
			t.Errorf("line %d: trace_id %v, want %s", i, got, want)
		}
		if got, want := ms[i][SpanIDKey], sc.SpanID().String(); got != want {
			t.Errorf("line %d: span_id %v, want %s", i, got, want)
		}
		if id := ms[i][TraceIDKey].(string); len(id) != 32 || strings.ToLower(id) != id {
			t.Errorf("trace_id %q is not 32 lower-case hex digits", id)
		}
	}
	if ms[0][SpanIDKey] == ms[1][SpanIDKey] {
		t.Error("child and parent lines have the same span_id")
	}
	for _, m := range ms[2:] {
		if _, ok := m[TraceIDKey]; ok {
			t.Errorf("line %v has a trace_id without a valid span", m)
		}
		if _, ok := m[SpanIDKey]; ok {
			t.Errorf("line %v has a span_id without a valid span", m)
		}
	}
}

// TestFieldsPerRequest: concurrent requests, each with its own bag, log
// through one logger; every line carries its own request's fields and no
// other's, also after the request added more fields concurrently.
func TestFieldsPerRequest(t *testing.T) {
	log, w := newLogger(t, Options{})
	const requests, perRequest = 40, 5
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			ctx := WithFields(context.Background())
			AddFields(ctx, slog.String(RequestIDKey, fmt.Sprintf("req-%d", i)), slog.String(TenantIDKey, fmt.Sprintf("tenant-%d", i%3)))
			for n := range perRequest {
				// Some of the request's work runs concurrently and adds fields.
				var inner sync.WaitGroup
				inner.Go(func() { AddFields(ctx, slog.Int("step", n)) })
				log.InfoContext(ctx, "work", "i", i)
				inner.Wait()
			}
			AddFields(ctx, slog.String(UserIDKey, fmt.Sprintf("u-%d", i)))
			log.InfoContext(ctx, "done", "i", i)
		})
	}
	wg.Wait()
	ms := w.parse(t)
	if len(ms) != requests*(perRequest+1) {
		t.Fatalf("want %d lines, got %d", requests*(perRequest+1), len(ms))
	}
	for _, m := range ms {
		i := int(m["i"].(float64))
		if m[RequestIDKey] != fmt.Sprintf("req-%d", i) || m[TenantIDKey] != fmt.Sprintf("tenant-%d", i%3) {
			t.Fatalf("line of request %d has another request's fields: %v", i, m)
		}
		if m["msg"] == "done" {
			if m[UserIDKey] != fmt.Sprintf("u-%d", i) || m["step"] != float64(perRequest-1) {
				t.Errorf("last line of request %d: %v", i, m)
			}
		} else if _, ok := m[UserIDKey]; ok {
			t.Errorf("user_id before it was added: %v", m)
		}
	}
}

// TestFieldsBag: no bag, no fields; a key added twice keeps its place and
// its last value; an inner bag starts from the outer one's fields and adds
// its own without changing it; Fields returns a copy.
func TestFieldsBag(t *testing.T) {
	ctx := context.Background()
	AddFields(ctx, slog.String(UserIDKey, "u-1")) // no bag: no-op, no panic
	if f := Fields(ctx); f != nil {
		t.Fatalf("fields without a bag: %v", f)
	}
	AddFields(nil, slog.String("k", "v")) //nolint:staticcheck // a nil context is tolerated
	ctx = WithFields(ctx)
	AddFields(ctx, slog.String(UserIDKey, "u-1"), slog.String(TenantIDKey, "acme"), slog.Attr{})
	AddFields(ctx, slog.String(UserIDKey, "u-2"))
	got := Fields(ctx)
	if len(got) != 2 || got[0].String() != "user_id=u-2" || got[1].String() != "tenant_id=acme" {
		t.Fatalf("fields %v, want [user_id=u-2 tenant_id=acme]", got)
	}
	got[0] = slog.String("x", "y")
	if Fields(ctx)[0].Key != UserIDKey {
		t.Fatal("Fields returned the bag's own slice")
	}

	inner := WithFields(ctx)
	AddFields(inner, slog.String(RequestIDKey, "r-1"), slog.String(TenantIDKey, "globex"))
	if f := Fields(inner); len(f) != 3 || f[1].Value.String() != "globex" || f[2].Value.String() != "r-1" {
		t.Errorf("inner fields %v", f)
	}
	if f := Fields(ctx); len(f) != 2 || f[1].Value.String() != "acme" {
		t.Errorf("outer fields changed by the inner bag: %v", f)
	}
}

// TestFieldsShadowed: a request field whose key the logger (With) or the
// record also has is not written: the more specific value wins and the
// line has no key twice.
func TestFieldsShadowed(t *testing.T) {
	log, w := newLogger(t, Options{})
	ctx := WithFields(context.Background())
	AddFields(ctx, slog.String(UserIDKey, "from-bag"), slog.String(TenantIDKey, "bag-tenant"), slog.String(RequestIDKey, "r-1"))
	log.With(TenantIDKey, "with-tenant").InfoContext(ctx, "x", UserIDKey, "from-record")
	line := w.buf.String()
	for _, k := range []string{UserIDKey, TenantIDKey, RequestIDKey} {
		if n := strings.Count(line, `"`+k+`"`); n != 1 {
			t.Errorf("%s written %d times: %s", k, n, line)
		}
	}
	m := w.one(t)
	if m[UserIDKey] != "from-record" || m[TenantIDKey] != "with-tenant" || m[RequestIDKey] != "r-1" {
		t.Errorf("line %v", m)
	}
}

// TestSourceOnErrors: records below Options.SourceAt have no source;
// those at or above it have slog's source group pointing at the call.
func TestSourceOnErrors(t *testing.T) {
	log, w := newLogger(t, Options{})
	log.Info("fine")
	log.Warn("hmm")
	_, file, line, _ := runtime.Caller(0)
	log.Error("broken") // line+1
	ms := w.parse(t)
	for _, m := range ms[:2] {
		if _, ok := m[SourceKey]; ok {
			t.Errorf("%v below Error has a source", m["level"])
		}
	}
	src, ok := ms[2][SourceKey].(map[string]any)
	if !ok {
		t.Fatalf("error line has no source group: %v", ms[2])
	}
	if src["file"] != file || src["line"] != float64(line+1) || !strings.HasSuffix(src["function"].(string), ".TestSourceOnErrors") {
		t.Errorf("source %v, want %s:%d in TestSourceOnErrors", src, file, line+1)
	}

	log, w = newLogger(t, Options{SourceAt: slog.LevelWarn})
	log.Info("fine")
	log.Warn("hmm")
	ms = w.parse(t)
	if _, ok := ms[0][SourceKey]; ok {
		t.Error("info has a source with SourceAt Warn")
	}
	if _, ok := ms[1][SourceKey]; !ok {
		t.Error("warn has no source with SourceAt Warn")
	}
}

// secretish has a secret field and no way of hiding it from JSON.
type secretish struct {
	User     string
	Password string
}

// lazy is a LogValuer that reveals a card number when resolved.
type lazy struct{ card string }

func (l lazy) LogValue() slog.Value { return slog.StringValue("card " + l.card) }

// TestRedaction: every class of secret, wherever it is in the record.
func TestRedaction(t *testing.T) {
	const (
		card   = "4111 1111 1111 1111"
		masked = "**** **** **** 1111"
		stripe = "sk_live_51Hd8sKJf9sdfkj3kjsdf8s7df"
		bearer = "Bearer abcdefgh12345678"
	)
	for _, c := range []struct {
		name string
		log  func(*slog.Logger)
		want map[string]any // top-level key → value; nested maps for groups
	}{
		{"secret key", func(l *slog.Logger) { l.Info("login", "password", "hunter2", "db.Token", "t0k3n", "user", "alice") },
			map[string]any{"password": redact.Mask, "db.Token": redact.Mask, "user": "alice"}},
		{"card keeps last 4", func(l *slog.Logger) { l.Info("charge", "pan", card, "note", "paid with "+card+" today") },
			map[string]any{"pan": masked, "note": "paid with " + masked + " today"}},
		{"api key keeps prefix", func(l *slog.Logger) { l.Info("cfg", "stripe", stripe) },
			map[string]any{"stripe": "sk_live_" + redact.Mask}},
		{"bearer", func(l *slog.Logger) { l.Info("upstream", "header", bearer) },
			map[string]any{"header": "Bearer " + redact.Mask}},
		{"message", func(l *slog.Logger) { l.Info("charged " + card + " with password=hunter2 and " + bearer) },
			map[string]any{"msg": "charged " + masked + " with password=" + redact.Mask + " and Bearer " + redact.Mask}},
		{"in a group", func(l *slog.Logger) {
			l.Info("req", slog.Group("http", slog.String("authorization", bearer), slog.String("card", card), slog.Int("status", 402)))
		}, map[string]any{"http": map[string]any{"authorization": redact.Mask, "card": masked, "status": float64(402)}}},
		{"a group under a secret key", func(l *slog.Logger) {
			l.Info("cfg", slog.Group("credentials", slog.String("user", "svc"), slog.Any("cert", []byte("PEM")), slog.Int("version", 2)))
		}, map[string]any{"credentials": map[string]any{"user": redact.Mask, "cert": redact.Mask, "version": float64(2)}}},
		{"in WithAttrs", func(l *slog.Logger) { l.With("api_key", "abc", "card", card).Info("x") },
			map[string]any{"api_key": redact.Mask, "card": masked}},
		{"in WithGroup and its WithAttrs", func(l *slog.Logger) {
			l.WithGroup("pay").With("secret", "s").WithGroup("card").Info("x", "number", card)
		}, map[string]any{"pay": map[string]any{"secret": redact.Mask, "card": map[string]any{"number": masked}}}},
		{"error values", func(l *slog.Logger) {
			l.Error("failed", "err", fmt.Errorf("charge %s: declined", card), "ok", errors.New("plain"))
		}, map[string]any{"err": "charge " + masked + ": declined", "ok": "plain"}},
		{"LogValuer", func(l *slog.Logger) { l.Info("x", "v", lazy{card}) },
			map[string]any{"v": "card " + masked}},
		{"Any values by their JSON", func(l *slog.Logger) {
			l.Info("x", "req", secretish{"bob", "hunter2"}, "raw", []byte("token="+stripe), "clean", []int{4111, 1111})
		}, map[string]any{"req": `{"User":"bob","Password":"` + redact.Mask + `"}`, "raw": "token=" + redact.Mask, "clean": []any{float64(4111), float64(1111)}}},
		{"numbers left alone", func(l *slog.Logger) {
			l.Info("x", "password_len", 12, "amount", 4111111111111111.0, "ok", true, "took", time.Second)
		}, map[string]any{"password_len": float64(12), "amount": 4111111111111111.0, "ok": true, "took": float64(time.Second)}},
		{"request fields", func(l *slog.Logger) {
			ctx := WithFields(context.Background())
			AddFields(ctx, slog.String("session", "abc123"), slog.String(UserIDKey, "u-1"))
			l.InfoContext(ctx, "x")
		}, map[string]any{"session": redact.Mask, UserIDKey: "u-1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			log, w := newLogger(t, Options{})
			c.log(log)
			m := w.one(t)
			for k, want := range c.want {
				if got := fmt.Sprint(m[k]); got != fmt.Sprint(want) {
					t.Errorf("%s: got %s\nwant %s", k, got, fmt.Sprint(want))
				}
			}
			for _, secret := range []string{"hunter2", "4111 1111 1111 1111", "51Hd8sKJf", "abcdefgh12345678", "t0k3n", "abc123"} {
				if strings.Contains(w.buf.String(), secret) {
					t.Errorf("%q leaked: %s", secret, w.buf.String())
				}
			}
		})
	}
}

// TestNoRedactor: without a Redactor, values pass untouched.
func TestNoRedactor(t *testing.T) {
	w := &lines{}
	slog.New(NewJSONHandler(w, Options{})).Info("password=x", "password", "hunter2")
	if m := w.one(t); m["password"] != "hunter2" || m["msg"] != "password=x" {
		t.Errorf("redacted without a Redactor: %v", m)
	}
}

// nilValuer's LogValue panics on a nil receiver.
type nilValuer struct{ s string }

func (n *nilValuer) LogValue() slog.Value { return slog.StringValue(n.s) }

// loop resolves to itself forever.
type loop struct{}

func (loop) LogValue() slog.Value { return slog.AnyValue(loop{}) }

// nilErr's Error panics on a nil receiver.
type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

// TestOddValues: values that make resolution or rendering fail are
// written as slog writes them, and nothing panics.
func TestOddValues(t *testing.T) {
	log, w := newLogger(t, Options{})
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	var nilV *nilValuer
	var nilE *nilErr
	log.Error("odd",
		"nil_error", error(nil),
		"typed_nil_error", error(nilE),
		"nil_valuer", nilV,
		"loop", loop{},
		"cyclic", cyclic,
		"fn", func() {},
		"nil", nil,
		slog.Attr{},
		slog.Group("empty"),
	)
	m := w.one(t)
	if m["nil_error"] != nil || m["typed_nil_error"] != "<nil>" {
		t.Errorf("nil errors: %v, %v", m["nil_error"], m["typed_nil_error"])
	}
	for _, k := range []string{"nil_valuer", "loop"} {
		if s, _ := m[k].(string); !strings.Contains(s, "LogValue") {
			t.Errorf("%s: %v, want slog's LogValue error", k, m[k])
		}
	}
	if s, _ := m["cyclic"].(string); !strings.Contains(s, "cycle") {
		t.Errorf("cyclic: %v", m["cyclic"])
	}
	if _, ok := m["empty"]; ok {
		t.Error("empty group written")
	}
}

// requestContext is a context in a span, with a request field bag holding
// request_id r-1.
func requestContext(t *testing.T) (context.Context, trace.Span) {
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	t.Cleanup(func() { span.End() })
	ctx = WithFields(ctx)
	AddFields(ctx, slog.String(RequestIDKey, "r-1"))
	return ctx, span
}

// TestJSONShape: the line parses back with slog's keys and types, in the
// level and time formats Loki and Grafana read.
func TestJSONShape(t *testing.T) {
	ctx, span := requestContext(t)
	log, w := newLogger(t, Options{Level: slog.LevelDebug})
	before := time.Now()
	log.DebugContext(ctx, "order created", "order_id", "o-1", "items", 3, "total", 59.9)
	log.InfoContext(ctx, "x")
	log.WarnContext(ctx, "x")
	log.ErrorContext(ctx, "x")
	ms := w.parse(t)
	m := ms[0]
	ts, err := time.Parse(time.RFC3339Nano, m["time"].(string))
	if err != nil || ts.Before(before.Add(-time.Second)) || ts.After(time.Now().Add(time.Second)) {
		t.Errorf("time %v: %v", m["time"], err)
	}
	want := map[string]any{"level": "DEBUG", "msg": "order created", TraceIDKey: span.SpanContext().TraceID().String(),
		SpanIDKey: span.SpanContext().SpanID().String(), RequestIDKey: "r-1", "order_id": "o-1", "items": float64(3), "total": 59.9}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if len(m) != len(want)+1 {
		t.Errorf("line has %d keys, want %d: %v", len(m), len(want)+1, m)
	}
	for i, l := range []string{"INFO", "WARN", "ERROR"} {
		if ms[i+1]["level"] != l {
			t.Errorf("level %v, want %s", ms[i+1]["level"], l)
		}
	}
	// The key order: time, level, msg first, as slog writes them.
	if line := strings.SplitN(w.buf.String(), "\n", 2)[0]; !strings.HasPrefix(line, `{"time":"`) || !strings.Contains(line, `","level":"DEBUG","msg":"order created","trace_id":"`) {
		t.Errorf("line %s", line)
	}
}

// TestLevel: Options.Level filters, and a LevelVar changes it at run time.
func TestLevel(t *testing.T) {
	var lv slog.LevelVar
	lv.Set(slog.LevelWarn)
	log, w := newLogger(t, Options{Level: &lv})
	log.Info("dropped")
	log.Warn("kept")
	lv.Set(slog.LevelDebug)
	log.Debug("kept too")
	if ms := w.parse(t); len(ms) != 2 || ms[0]["msg"] != "kept" || ms[1]["msg"] != "kept too" {
		t.Errorf("lines %v", ms)
	}
	// NewHandler's level is checked on top of next's.
	h := NewHandler(slog.NewJSONHandler(&lines{}, &slog.HandlerOptions{Level: slog.LevelError}), Options{Level: slog.LevelDebug})
	if h.Enabled(context.Background(), slog.LevelWarn) || !h.Enabled(context.Background(), slog.LevelError) {
		t.Error("Enabled ignores the next handler's level")
	}
	if NewHandler(nil, Options{}).Enabled(context.Background(), slog.LevelError) {
		t.Error("a nil next handler is enabled")
	}
}

// TestSlogtest runs the standard library's handler conformance tests
// (testing/slogtest) on NewJSONHandler, with and without redaction.
func TestSlogtest(t *testing.T) {
	for _, red := range []*redact.Redactor{nil, defaultRedactor(t)} {
		var w *lines
		slogtest.Run(t, func(*testing.T) slog.Handler {
			w = &lines{}
			return NewJSONHandler(w, Options{Redactor: red, Level: slog.LevelDebug})
		}, func(t *testing.T) map[string]any {
			return w.one(t)
		})
	}
}

// TestGroupsKeepCorrelationTopLevel: under WithGroup, the record's and
// the later WithAttrs' attributes are nested, but trace_id, span_id, the
// request fields and the source stay at the top level, where derived
// fields and LogQL's json parser look for them.
func TestGroupsKeepCorrelationTopLevel(t *testing.T) {
	ctx, span := requestContext(t)
	log, w := newLogger(t, Options{})
	log.With("service", "orders").WithGroup("db").With("system", "sqlite").WithGroup("query").ErrorContext(ctx, "slow", "rows", 812)
	m := w.one(t)
	if m[TraceIDKey] != span.SpanContext().TraceID().String() || m[SpanIDKey] != span.SpanContext().SpanID().String() || m[RequestIDKey] != "r-1" {
		t.Errorf("correlation fields not at the top level: %v", m)
	}
	if _, ok := m[SourceKey].(map[string]any); !ok {
		t.Errorf("source not at the top level: %v", m)
	}
	if got := fmt.Sprint(m["db"]); got != "map[query:map[rows:812] system:sqlite]" || m["service"] != "orders" {
		t.Errorf("groups: service=%v db=%s", m["service"], got)
	}
}

// counter counts its LogValue calls.
type counter struct{ n *int }

func (c counter) LogValue() slog.Value { *c.n++; return slog.StringValue("v") }

// TestLogValuerOnce: a LogValuer in a group is resolved once per line,
// by this handler, not again by the one beneath.
func TestLogValuerOnce(t *testing.T) {
	log, w := newLogger(t, Options{})
	n := 0
	log.Info("x", slog.Group("g", slog.Any("lazy", counter{&n}), slog.String("k", "plain")))
	if n != 1 || fmt.Sprint(w.one(t)["g"]) != "map[k:plain lazy:v]" {
		t.Errorf("LogValue called %d times, line %s", n, w.buf.String())
	}
}
