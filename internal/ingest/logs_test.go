package ingest

import "testing"

func TestDetectLevel(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{`{"time":"x","level":"WARN","msg":"disk"}`, "warn"},
		{`{"severity": "error", "message": "x"}`, "error"},
		{`ts=1 level=debug msg="cache miss"`, "debug"},
		{`ts=1 lvl="info" msg=x`, "info"},
		{`2024-01-01 12:00:00 ERROR payment failed`, "error"},
		{`[warn] slow query`, "warn"},
		{`panic: runtime error`, "fatal"},
		{`Error: mixed case is not a level word`, ""},
		{`user errors=3 info_count=2`, ""},
		{`nothing here`, ""},
		{`sublevel=verbose`, ""},
		{`x.level=verbose`, ""},
	} {
		if got := DetectLevel(c.line); got != c.want {
			t.Errorf("DetectLevel(%q) = %q, want %q", c.line, got, c.want)
		}
	}
}

func TestIDsInLine(t *testing.T) {
	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, c := range []struct{ line, trace, span string }{
		{`{"level":"error","trace_id":"` + tid + `","span_id":"` + sid + `","msg":"x"}`, tid, sid},
		{`{"traceId": "` + tid + `", "spanId" : "` + sid + `"}`, tid, sid},
		{`level=error trace_id=` + tid + ` span_id=` + sid + ` msg="payment failed"`, tid, sid},
		{`traceID="` + tid + `" msg=x`, tid, ""},
		{`{"trace.id":"` + tid + `"}`, tid, ""},
		{`{"mytrace_id":"` + tid + `","subtrace_id":"ab"}`, "", ""},
		{`trace_id=not-hex span_id=` + sid, "", sid},
		{`msg="no ids" tracer=x`, "", ""},
		{`trace_id=` + tid + `00`, "", ""}, // longer than an id
	} {
		tr, sp := IDsInLine(c.line)
		if tr != c.trace || sp != c.span {
			t.Errorf("%s: %q %q, want %q %q", c.line, tr, sp, c.trace, c.span)
		}
	}
}
