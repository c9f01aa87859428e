package tempo

import (
	"bytes"
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/horus-obs/horus/internal/ingest/otlp"
)

// wantsProto reports whether the client asked for protobuf, as Tempo
// decides it: an Accept header naming application/protobuf.
func wantsProto(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/protobuf")
}

func (a *API) fetchTrace(ctx context.Context, tenant string, r *http.Request) (ptrace.Traces, int, error) {
	id, err := parseTraceID(r.PathValue("id"))
	if err != nil {
		return ptrace.Traces{}, 0, err
	}
	if _, _, err := timeRange(r); err != nil {
		return ptrace.Traces{}, 0, err
	}
	spans, err := a.store.Trace(ctx, tenant, id)
	if err != nil {
		return ptrace.Traces{}, 0, err
	}
	return otlp.TracesFromSpans(spans), len(spans), nil
}

// traceV1 answers /api/traces/<id>: tempopb.Trace, whose protobuf is
// OTLP's TracesData; as JSON its resourceSpans are named batches. A trace
// that is not found is a 404.
func (a *API) traceV1(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error {
	td, n, err := a.fetchTrace(ctx, tenant, r)
	if err != nil {
		return err
	}
	if n == 0 {
		http.Error(w, "trace not found", http.StatusNotFound)
		return nil
	}
	if wantsProto(r) {
		b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/protobuf")
		_, _ = w.Write(b)
		return nil
	}
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		return err
	}
	b = bytes.Replace(b, []byte(`"resourceSpans"`), []byte(`"batches"`), 1)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
	return nil
}

// traceV2 answers /api/v2/traces/<id>: tempopb.TraceByIDResponse, with
// the trace as field 1. A trace that is not found is an empty trace, as
// Tempo answers since 2.7.
func (a *API) traceV2(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error {
	td, _, err := a.fetchTrace(ctx, tenant, r)
	if err != nil {
		return err
	}
	if wantsProto(r) {
		tb, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			return err
		}
		b := protowire.AppendTag(nil, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, tb)
		w.Header().Set("Content-Type", "application/protobuf")
		_, _ = w.Write(b)
		return nil
	}
	tb, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"trace":`))
	_, _ = w.Write(tb)
	_, _ = w.Write([]byte(`,"metrics":{}}` + "\n"))
	return nil
}
