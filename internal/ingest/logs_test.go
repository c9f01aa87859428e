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
