package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/horus-obs/horus/internal/tenant"
)

// Limits bound one series at ingest.
type Limits struct {
	// MaxLabelsPerSeries bounds the labels of one series, __name__ included.
	MaxLabelsPerSeries int
	// MaxLabelNameLength bounds a label name, in bytes.
	MaxLabelNameLength int
	// MaxLabelValueLength bounds a label value, in bytes.
	MaxLabelValueLength int
}

// CheckLabels returns an *Error if ls breaks a limit or is not a valid
// Prometheus series (no metric name, an invalid name, invalid UTF-8, a
// duplicated label name) or has the reserved label tenant.Label.
func (l Limits) CheckLabels(ls labels.Labels) *Error {
	if n := ls.Len(); n > l.MaxLabelsPerSeries {
		return Errorf(ReasonTooManyLabels, "series %s has %d labels, more than the limit of %d", truncate(ls.String()), n, l.MaxLabelsPerSeries)
	}
	name := ls.Get(model.MetricNameLabel)
	if name == "" {
		return Errorf(ReasonMissingName, "series %s has no metric name (__name__)", truncate(ls.String()))
	}
	var err *Error
	ls.Range(func(lb labels.Label) {
		if err != nil {
			return
		}
		switch {
		case lb.Name == tenant.Label:
			err = Errorf(ReasonReservedLabel, "label %q of series %s is reserved: it holds the tenant, which the %s header names", lb.Name, truncate(name), tenant.Header)
		case len(lb.Name) > l.MaxLabelNameLength:
			err = Errorf(ReasonLabelNameTooLong, "label name %q of series %s is %d bytes, more than the limit of %d", truncate(lb.Name), truncate(name), len(lb.Name), l.MaxLabelNameLength)
		case len(lb.Value) > l.MaxLabelValueLength:
			err = Errorf(ReasonLabelValueTooLong, "value of label %q of series %s is %d bytes, more than the limit of %d", lb.Name, truncate(name), len(lb.Value), l.MaxLabelValueLength)
		case !model.UTF8Validation.IsValidLabelName(lb.Name):
			err = Errorf(ReasonInvalidLabels, "label name %q of series %s is not valid UTF-8 or is empty", truncate(lb.Name), truncate(name))
		case !utf8.ValidString(lb.Value):
			err = Errorf(ReasonInvalidLabels, "value of label %q of series %s is not valid UTF-8", lb.Name, truncate(name))
		}
	})
	if err != nil {
		return err
	}
	if dup, ok := ls.HasDuplicateLabelNames(); ok {
		return Errorf(ReasonDuplicateLabel, "series %s has label %q more than once", truncate(ls.String()), dup)
	}
	return nil
}

func truncate(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	// Cut on a rune boundary.
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// storageReason maps the TSDB's refusals of a sample to a rejection
// reason; "" means the error is not the client's fault. The list is every
// per-sample error of the head appender (tsdb/head_append_v2.go,
// storage/interface.go): a sample the TSDB refuses for what it is must be
// a 4xx, or a remote-write sender retries the request forever (the
// receiver compliance suite's MUST).
func storageReason(err error) Reason {
	var he histogram.Error
	switch {
	case errors.Is(err, tsdb.ErrInvalidSample):
		return ReasonInvalidLabels
	case errors.Is(err, storage.ErrNativeHistogramsDisabled):
		return ReasonInvalidHistogram
	case errors.Is(err, storage.ErrOutOfOrderSample):
		return ReasonOutOfOrder
	case errors.Is(err, storage.ErrOutOfBounds), errors.Is(err, storage.ErrTooOldSample):
		return ReasonTooOld
	case errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
		return ReasonDuplicateSample
	case errors.As(err, &he):
		return ReasonInvalidHistogram
	}
	return ""
}

// Rejections records the items refused within one request: how many for
// each reason and the first few messages, to answer the client with.
type Rejections struct {
	Count    int
	ByReason map[Reason]int
	// First is the reason of the first refusal.
	First Reason
	// Messages holds the first maxMessages messages.
	Messages []string
}

const maxMessages = 5

// Add records one refused item.
func (r *Rejections) Add(e *Error) {
	if r.Count == 0 {
		r.First = e.Reason
		r.ByReason = map[Reason]int{}
	}
	r.Count++
	r.ByReason[e.Reason]++
	if len(r.Messages) < maxMessages {
		r.Messages = append(r.Messages, e.Error())
	}
}

// Merge adds the refusals recorded in o.
func (r *Rejections) Merge(o *Rejections) {
	if o.Count == 0 {
		return
	}
	if r.Count == 0 {
		r.First = o.First
		r.ByReason = map[Reason]int{}
	}
	r.Count += o.Count
	for reason, n := range o.ByReason {
		r.ByReason[reason] += n
	}
	for _, m := range o.Messages {
		if len(r.Messages) < maxMessages {
			r.Messages = append(r.Messages, m)
		}
	}
}

// Err returns nil when nothing was refused, or an *Error with the first
// refusal's reason and a message that counts them all.
func (r *Rejections) Err() error {
	if r.Count == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d item(s) rejected", r.Count)
	for _, m := range r.Messages {
		msg += "; " + m
	}
	return &Error{Reason: r.First, Msg: msg}
}

// Guard is a storage.AppendableV2 that checks every series against Limits
// before handing the sample to the next appendable. A refused sample is
// not appended: it is recorded in the appender's Rejections, and the rest
// of the batch goes on, so that a protocol handler can answer with a
// partial success. Errors that are not the client's fault abort the append
// as usual.
//
// The samples belong to the tenant of the appender's context
// (tenant.WithContext; tenant.Default when it names none): the series of
// a tenant other than the default one get the label tenant.Label with its
// name, which clients may not send themselves.
type Guard struct {
	Next   storage.AppendableV2
	Limits Limits
	// Metadata, when set, records the type, unit and help that come with
	// appended samples.
	Metadata MetadataSetter
}

// MetadataSetter records the metadata of a tenant's metric family.
type MetadataSetter interface {
	Set(tenant, family string, md metadata.Metadata)
}

// MaxAhead is how far past the wall clock a sample may be, as in
// Prometheus' remote-write receiver.
const MaxAhead = 10 * time.Minute

// Appender returns a guarded appender for the tenant of ctx. Its
// Rejections say what it refused.
func (g *Guard) Appender(ctx context.Context) *GuardAppender {
	org, ok := tenant.FromContext(ctx)
	if !ok {
		org = tenant.Default
	}
	return &GuardAppender{next: g.Next.AppenderV2(ctx), limits: g.Limits, meta: g.Metadata, tenant: org, maxT: time.Now().Add(MaxAhead).UnixMilli()}
}

// AppenderV2 implements storage.AppendableV2.
func (g *Guard) AppenderV2(ctx context.Context) storage.AppenderV2 { return g.Appender(ctx) }

// GuardAppender is the appender of a Guard. Like every AppenderV2 it is
// not safe for concurrent use.
type GuardAppender struct {
	next     storage.AppenderV2
	limits   Limits
	meta     MetadataSetter
	tenant   string
	maxT     int64
	rejected Rejections
	// failed is the first error of the store itself (not a rejection).
	failed error
	// Appended counts float and histogram samples appended.
	Appended int
	// lastOK caches the labels checked last, as a batch often carries
	// several samples of one series in a row; lastOKSet says it holds
	// some (the zero Labels is the empty set, which is not valid).
	lastOK    labels.Labels
	lastOKSet bool
	// lastFamily and lastMeta cache the metadata recorded last.
	lastFamily string
	lastMeta   metadata.Metadata
	// tb adds the tenant label; tenantIn and tenantOut cache its last
	// input and output, for the samples of one series in a row.
	tb                  labels.Builder
	tenantIn, tenantOut labels.Labels
}

var (
	_ storage.AppendableV2       = (*Guard)(nil)
	_ storage.ExemplarAppenderV2 = (*GuardAppender)(nil)
)

// Rejections returns what the appender refused so far.
func (a *GuardAppender) Rejections() *Rejections { return &a.rejected }

// StoreErr returns the first error of the store itself (a failed write,
// not a refused sample), or nil.
func (a *GuardAppender) StoreErr() error { return a.failed }

// SetMetadata records metadata that arrived apart from samples (remote
// write 1.0 sends it so).
func (a *GuardAppender) SetMetadata(family string, md metadata.Metadata) {
	if a.meta != nil && (family != a.lastFamily || md != a.lastMeta) {
		a.meta.Set(a.tenant, family, md)
		a.lastFamily, a.lastMeta = family, md
	}
}

// Reject records an item refused by the caller before it reached Append.
func (a *GuardAppender) Reject(e *Error) { a.rejected.Add(e) }

// Append implements storage.AppenderV2. It returns (0, nil) for a refused
// sample.
func (a *GuardAppender) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AppendV2Options) (storage.SeriesRef, error) {
	return a.append(ref, ls, st, t, v, h, fh, opts, true)
}

// AppendValidated is Append for labels that passed the limits before (a
// caller's cache of known series); it skips checking them again.
func (a *GuardAppender) AppendValidated(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AppendV2Options) (storage.SeriesRef, error) {
	return a.append(ref, ls, st, t, v, h, fh, opts, false)
}

func (a *GuardAppender) append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AppendV2Options, check bool) (storage.SeriesRef, error) {
	if check && (!a.lastOKSet || !labels.Equal(ls, a.lastOK)) {
		if err := a.limits.CheckLabels(ls); err != nil {
			a.rejected.Add(err)
			return 0, nil
		}
		a.lastOK, a.lastOKSet = ls, true
	}
	if t > a.maxT {
		a.rejected.Add(Errorf(ReasonTooNew, "sample of series %s at %s is more than %v in the future", truncate(ls.String()), time.UnixMilli(t).UTC().Format(time.RFC3339), MaxAhead))
		return 0, nil
	}
	if opts.Metadata != (metadata.Metadata{}) {
		family := opts.MetricFamilyName
		if family == "" {
			family = ls.Get(model.MetricNameLabel)
		}
		a.SetMetadata(family, opts.Metadata)
	}
	ref, err := a.next.Append(ref, a.withTenant(ls), st, t, v, h, fh, opts)
	if err != nil {
		if reason := storageReason(err); reason != "" {
			a.rejected.Add(Errorf(reason, "%v for series %s at %d", err, truncate(ls.String()), t))
			return 0, nil
		}
		if errors.Is(err, (*storage.AppendPartialError)(nil)) {
			// The sample is in; only exemplars failed, which Prometheus
			// does not fail a request for either.
			a.Appended++
			return ref, nil
		}
		if a.failed == nil {
			a.failed = err
		}
		return 0, err
	}
	a.Appended++
	return ref, nil
}

// AppendExemplars implements storage.ExemplarAppenderV2. Exemplars that
// the store refuses are dropped, as Prometheus does; their series must
// exist (have a sample).
func (a *GuardAppender) AppendExemplars(ref storage.SeriesRef, ls labels.Labels, es []exemplar.Exemplar) (storage.SeriesRef, error) {
	ea, ok := a.next.(storage.ExemplarAppenderV2)
	if !ok {
		return ref, nil
	}
	ref, err := ea.AppendExemplars(ref, a.withTenant(ls), es)
	if err != nil && (errors.Is(err, (*storage.AppendPartialError)(nil)) || errors.Is(err, storage.ErrNotFound)) {
		return ref, nil
	}
	return ref, err
}

// withTenant returns ls with the label of the appender's tenant; the
// default tenant's series have none.
func (a *GuardAppender) withTenant(ls labels.Labels) labels.Labels {
	if a.tenant == tenant.Default {
		return ls
	}
	if a.tenantOut.IsEmpty() || !labels.Equal(ls, a.tenantIn) {
		a.tb.Reset(ls)
		a.tb.Set(tenant.Label, a.tenant)
		a.tenantIn, a.tenantOut = ls, a.tb.Labels()
	}
	return a.tenantOut
}

// Commit implements storage.AppenderTransaction.
func (a *GuardAppender) Commit() error { return a.next.Commit() }

// Rollback implements storage.AppenderTransaction.
func (a *GuardAppender) Rollback() error { return a.next.Rollback() }
