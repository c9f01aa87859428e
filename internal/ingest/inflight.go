package ingest

import (
	"context"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// InFlight bounds the ingest requests served at once and the request-body
// memory they hold together, so that many concurrent or hostile requests
// are answered 503 with Retry-After (a status every ingest client retries:
// Prometheus' remote write, the OTLP exporters, Promtail and Alloy) before
// memory runs out. It is the admission control of Mimir's distributor
// instance limits (max in-flight push requests and their bytes) and of the
// OpenTelemetry Collector's memory limiter.
//
// Bytes are counted as buffers grow while a body arrives and is
// decompressed (never from an announced Content-Length), so a client holds
// budget only for bytes it really sent. The decoded structures made from a
// body are not counted: the decoders bound them to a small multiple of the
// decoded bytes.
//
// The zero value and a nil *InFlight admit everything.
type InFlight struct {
	maxBytes    int64
	maxRequests int64
	bytes       atomic.Int64
	requests    atomic.Int64
	refused     *prometheus.CounterVec
}

// NewInFlight returns a limit of maxRequests requests and maxBytes body
// bytes in flight; 0 means no bound for either. When reg is not nil it
// registers horus_ingest_inflight_requests, horus_ingest_inflight_bytes
// and horus_ingest_inflight_refused_total{limit}.
func NewInFlight(maxRequests int, maxBytes int64, reg prometheus.Registerer) *InFlight {
	f := &InFlight{
		maxBytes:    maxBytes,
		maxRequests: int64(maxRequests),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horus_ingest_inflight_refused_total",
			Help: "Ingest requests answered 503 because a limit on requests or body bytes in flight was reached, by limit.",
		}, []string{"limit"}),
	}
	if reg != nil {
		reg.MustRegister(f.refused,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "horus_ingest_inflight_requests",
				Help: "Ingest requests being served.",
			}, func() float64 { return float64(f.requests.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "horus_ingest_inflight_bytes",
				Help: "Bytes of request-body buffers held by ingest requests being served.",
			}, func() float64 { return float64(f.bytes.Load()) }),
		)
	}
	return f
}

// Bytes returns the body bytes reserved by requests in flight.
func (f *InFlight) Bytes() int64 {
	if f == nil {
		return 0
	}
	return f.bytes.Load()
}

// Begin admits one request, or returns an *Error with ReasonOverloaded
// when maxRequests are in flight already. The caller must End the
// reservation when the request is answered.
func (f *InFlight) Begin() (*Reservation, error) {
	if f == nil {
		return nil, nil
	}
	if n := f.requests.Add(1); f.maxRequests > 0 && n > f.maxRequests {
		f.requests.Add(-1)
		f.refused.WithLabelValues("requests").Inc()
		return nil, Errorf(ReasonOverloaded, "%d ingest requests are in flight, the limit (limits.max_inflight_requests); retry later", f.maxRequests)
	}
	return &Reservation{f: f}, nil
}

// Reservation is one admitted request's share of an InFlight. Its methods
// are safe for concurrent use, and do nothing on a nil *Reservation (no
// limit applies).
type Reservation struct {
	f     *InFlight
	bytes atomic.Int64
	ended atomic.Bool
}

// Grow reserves n more bytes for the request. When the bytes in flight
// would pass the limit it reserves nothing and returns an *Error with
// ReasonOverloaded.
func (r *Reservation) Grow(n int64) error {
	if r == nil || n <= 0 {
		return nil
	}
	f := r.f
	if total := f.bytes.Add(n); f.maxBytes > 0 && total > f.maxBytes {
		f.bytes.Add(-n)
		f.refused.WithLabelValues("bytes").Inc()
		return Errorf(ReasonOverloaded, "ingest requests in flight hold %d bytes of bodies; %d more would pass the limit of %d (limits.max_inflight_bytes); retry later",
			total-n, n, f.maxBytes)
	}
	r.bytes.Add(n)
	return nil
}

// Release gives back n bytes reserved by Grow, for a buffer the request
// no longer holds.
func (r *Reservation) Release(n int64) {
	if r == nil || n <= 0 {
		return
	}
	r.bytes.Add(-n)
	r.f.bytes.Add(-n)
}

// Bytes returns the bytes the request has reserved.
func (r *Reservation) Bytes() int64 {
	if r == nil {
		return 0
	}
	return r.bytes.Load()
}

// End releases the request and every byte it reserved. Later calls do
// nothing.
func (r *Reservation) End() {
	if r == nil || r.ended.Swap(true) {
		return
	}
	r.f.bytes.Add(-r.bytes.Swap(0))
	r.f.requests.Add(-1)
}

type reservationKey struct{}

// WithReservation returns ctx carrying r, for the body readers of ingest
// (ReadBody, Bodies) to count their buffers in.
func WithReservation(ctx context.Context, r *Reservation) context.Context {
	return context.WithValue(ctx, reservationKey{}, r)
}

// ReservationFrom returns the reservation ctx carries, or nil.
func ReservationFrom(ctx context.Context) *Reservation {
	r, _ := ctx.Value(reservationKey{}).(*Reservation)
	return r
}
