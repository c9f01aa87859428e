package prom

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// worstAccepted are queries within the default limits that cost the most
// to parse, print and encode: a chain one level short of the depth limit
// with long selectors filling the length limit, a wide tree of the most
// nodes, and nested calls to the depth limit.
func worstAccepted() map[string]string {
	leaf := `x{a="` + strings.Repeat("y", MaxQueryLength/(MaxQueryDepth-1)-12) + `"}`
	chain := strings.Repeat(leaf+" + ", MaxQueryDepth-2) + leaf
	group := "(" + strings.Repeat("1 + ", 98) + "1)"
	wide := strings.Repeat(group+" + ", 49) + group
	nested := strings.Repeat("abs(", MaxQueryDepth-2) + "up" + strings.Repeat(")", MaxQueryDepth-2)
	return map[string]string{"chain of long selectors": chain, "wide": wide, "nested calls": nested}
}

// BenchmarkPromQLLimits measures the refusal of the attacks, the
// unlimited parser on the same input (before), and the queries the limits
// still accept: parsing, /api/v1/parse_query (AST as JSON) and
// /api/v1/format_query (pretty-printed). Run with -benchtime 1x -benchmem;
// set HORUS_BENCH_1MB=1 to also parse the 1 MB or-chain without limits
// (minutes).
func BenchmarkPromQLLimits(b *testing.B) {
	limited, plain := NewParser(Limits{}), parser.NewParser(parser.Options{})
	sum10k := strings.Repeat("1 + ", 10_000) + "1"
	or1MB := strings.Repeat("up or ", 175_000) + "up"
	or64k := or1MB[:MaxQueryLength-2]
	or64k = or64k[:strings.LastIndex(or64k, " or ")]
	for name, q := range map[string]string{"1+1 10k terms": sum10k, "or chain 1 MB": or1MB, "or chain 64 KiB": or64k} {
		b.Run("refused/"+name, func(b *testing.B) {
			for b.Loop() {
				if _, err := limited.ParseExpr(q); err == nil {
					b.Fatal("accepted")
				}
			}
		})
		if name == "or chain 1 MB" && os.Getenv("HORUS_BENCH_1MB") == "" {
			continue
		}
		b.Run("unlimited/"+name, func(b *testing.B) {
			for b.Loop() {
				if _, err := plain.ParseExpr(q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	ta := newTestAPI(b, nil)
	h := ta.api.Handler()
	for name, q := range worstAccepted() {
		b.Run("accepted/parse/"+name, func(b *testing.B) {
			b.SetBytes(int64(len(q)))
			for b.Loop() {
				if _, err := limited.ParseExpr(q); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, ep := range []string{"parse_query", "format_query"} {
			b.Run("accepted/"+ep+"/"+name, func(b *testing.B) {
				form := url.Values{"query": {q}}.Encode()
				for b.Loop() {
					req := httptest.NewRequest(http.MethodPost, "/api/v1/"+ep, strings.NewReader(form))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK && (ep != "format_query" || !strings.Contains(rec.Body.String(), "too large to format")) {
						b.Fatalf("%d %.200s", rec.Code, rec.Body)
					}
					b.ReportMetric(float64(rec.Body.Len()), "resp-bytes")
				}
			})
		}
	}
}
