package server

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/horus-obs/horus/internal/ingest"
)

// retryAfter is the Retry-After given with a 503 for a request refused by
// the in-flight limits: long enough for the requests in flight to finish.
const retryAfter = 5 * time.Second

// bodyTimeouts bound how long a request body may take: each read must
// bring bytes within idle, and the whole body must arrive within total
// from the start of the request; 0 disables either. They protect every
// handler from a client that announces a body and sends it slowly or not
// at all (a slowloris on the body, which net/http's ReadHeaderTimeout does
// not cover). The deadline is lifted once the body is read, so a long
// query or a tail websocket is not cut.
type bodyTimeouts struct {
	idle, total time.Duration
}

// bodyDeadlines gives every request's body reads the deadlines of bt.
func bodyDeadlines(h http.Handler, bt bodyTimeouts) http.Handler {
	if bt.idle <= 0 && bt.total <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), t: bt, start: time.Now()}
		}
		h.ServeHTTP(w, r)
	})
}

// admit wraps a write endpoint: its requests are admitted by f, carry
// their ingest.Reservation in their context, and have a 503 answered with
// Retry-After.
func admit(h http.Handler, f *ingest.InFlight) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := f.Begin()
		if err != nil {
			w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer res.End()
		h.ServeHTTP(&retryAfterWriter{ResponseWriter: w}, r.WithContext(ingest.WithReservation(r.Context(), res)))
	})
}

// retryAfterWriter adds Retry-After to a 503 that lacks one.
type retryAfterWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *retryAfterWriter) WriteHeader(code int) {
	if !w.wrote && code == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *retryAfterWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *retryAfterWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// deadlineBody sets the connection's read deadline before each read of a
// body, and lifts it at the end of the body.
type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	t     bodyTimeouts
	start time.Time
	done  bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	var d time.Time
	now := time.Now()
	if b.t.idle > 0 {
		d = now.Add(b.t.idle)
	}
	if b.t.total > 0 {
		if end := b.start.Add(b.t.total); d.IsZero() || end.Before(d) {
			d = end
		}
	}
	// A writer that cannot set deadlines (HTTP/2 over a test transport)
	// reads without one.
	_ = b.rc.SetReadDeadline(d)
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil:
		// The deadline stays: net/http's discarding of the unread body
		// after the answer fails at once instead of waiting for a client
		// that sends nothing, and the connection is closed.
		b.done = true
	}
	return n, err
}

// grpcLimits admits OTLP/gRPC calls through f: a call is refused with
// Unavailable (which the OTLP exporters retry) when f's request limit is
// reached, or when maxMsg more bytes would pass f's byte limit, before its
// message is read. grpc-go reads a whole message before any handler or
// stats hook sees it, so a call reserves the most a message may be
// (maxMsg, the server's MaxRecvMsgSize) up front; the reservation ends
// with the call's context.
type grpcLimits struct {
	f      *ingest.InFlight
	maxMsg int
}

// options returns the server options that apply the limits.
func (g grpcLimits) options() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(g.maxMsg),
		grpc.InTapHandle(g.tap),
	}
}

func (g grpcLimits) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	need := int64(g.maxMsg)
	if enc := info.Header.Get("grpc-encoding"); len(enc) > 0 && enc[0] != "identity" {
		need *= 2 // the message as received, and decompressed
	}
	res, err := g.f.Begin()
	if err == nil {
		if err = res.Grow(need); err != nil {
			res.End()
		}
	}
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	// The stream's context ends with the call on every path, including
	// those that never reach a handler (an unknown method).
	context.AfterFunc(ctx, res.End)
	return ingest.WithReservation(ctx, res), nil
}

// postOnly answers any method but POST with 405 and Allow: POST, as Loki
// answers a GET of its push endpoint (a method pattern in the mux would
// leave other methods to the catch-all "/", a 404).
func postOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, r.Method+" is not allowed here: send data with POST", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}
