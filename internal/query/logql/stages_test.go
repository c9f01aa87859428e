package logql

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/buger/jsonparser"

	"github.com/horus-obs/horus/internal/ingest/shape"
	"github.com/horus-obs/horus/internal/store/events"
)

type kv struct{ k, v string }

func collect(f func(emit func(k, v string)) error) ([]kv, error) {
	var out []kv
	err := f(func(k, v string) { out = append(out, kv{k, v}) })
	return out, err
}

func kvsEqual(a, b []kv) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLogfmt(t *testing.T) {
	// The example of Loki's log_queries documentation.
	const doc = `at=info method=GET path=/ host=grafana.net fwd="124.133.124.161" service=8ms status=200`
	docKV := []kv{{"at", "info"}, {"method", "GET"}, {"path", "/"}, {"host", "grafana.net"}, {"fwd", "124.133.124.161"}, {"service", "8ms"}, {"status", "200"}}
	for _, tc := range []struct {
		name              string
		line              string
		strict, keepEmpty bool
		want              []kv
		err               string
	}{
		{name: "doc", line: doc, want: docKV},
		{name: "doc strict", line: doc, strict: true, want: docKV},
		{name: "empty", line: ""},
		{name: "blanks", line: " \t "},
		{name: "quoted escapes", line: `msg="hello \"world\"" a=1`, want: []kv{{"msg", `hello "world"`}, {"a", "1"}}},
		{name: "quoted spaces", line: `foobar="foo bar"`, want: []kv{{"foobar", "foo bar"}}},
		{name: "json escapes", line: `a="t\tn\nb\\s\/q\'"`, want: []kv{{"a", "t\tn\nb\\s/q'"}}},
		{name: "unicode escape", line: `a="caf\u00e9"`, want: []kv{{"a", "café"}}},
		{name: "surrogate pair", line: `a="\ud83d\ude00!"`, want: []kv{{"a", "😀!"}}},
		{name: "lone surrogate", line: `a="x\ud83dy"`, want: []kv{{"a", "x y"}}},
		{name: "bare key dropped", line: `a b=1`, want: []kv{{"b", "1"}}},
		{name: "bare key kept", line: `a b=1`, keepEmpty: true, want: []kv{{"a", ""}, {"b", "1"}}},
		{name: "empty values dropped", line: `a= b="" c=1`, want: []kv{{"c", "1"}}},
		{name: "empty values kept", line: `a= b="" c=1`, keepEmpty: true, want: []kv{{"a", ""}, {"b", ""}, {"c", "1"}}},
		{name: "trailing bare key", line: `a=1 b`, keepEmpty: true, want: []kv{{"a", "1"}, {"b", ""}}},
		{name: "no separator after quote", line: `a="b"c=d`, want: []kv{{"a", "b"}, {"c", "d"}}},
		{name: "other separators", line: "a=1\tb=2\nc=3", want: []kv{{"a", "1"}, {"b", "2"}, {"c", "3"}}},
		{name: "duplicates kept", line: `a=1 a=2`, want: []kv{{"a", "1"}, {"a", "2"}}},
		{name: "odd keys", line: `a.b=1 x-y=2 1a=3 é=4`, want: []kv{{"a.b", "1"}, {"x-y", "2"}, {"1a", "3"}, {"é", "4"}}},
		// The invalid pairs of Loki's --strict documentation.
		{name: "no key", line: `=value b=1`, want: []kv{{"b", "1"}}},
		{name: "no key strict", line: `=value b=1`, strict: true, err: "logfmt syntax error at pos 1 : unexpected '='"},
		{name: "double equal", line: `a=1 foo=bar=buzz b=2`, want: []kv{{"a", "1"}, {"b", "2"}}},
		{name: "double equal strict", line: `a=1 foo=bar=buzz b=2`, strict: true, want: []kv{{"a", "1"}}, err: "logfmt syntax error at pos 12 : unexpected '='"},
		{name: "quote in key", line: `fo"o=bar b=2`, want: []kv{{"b", "2"}}},
		{name: "quote in key strict", line: `fo"o=bar b=2`, strict: true, err: "logfmt syntax error at pos 3 : unexpected '\"'"},
		{name: "quote in value", line: `a=b"c d=1`, want: []kv{{"d", "1"}}},
		{name: "unterminated", line: `a=1 b="x y`, want: []kv{{"a", "1"}}},
		{name: "unterminated strict", line: `a=1 b="x y`, strict: true, want: []kv{{"a", "1"}}, err: "logfmt syntax error at pos 11 : unterminated quoted value"},
		{name: "bad escape", line: `a="\x" b=1`, want: []kv{{"b", "1"}}},
		{name: "bad escape strict", line: `a="\x" b=1`, strict: true, err: "logfmt syntax error at pos 7 : invalid quoted value"},
		{name: "bad key utf8", line: "a\xffb=1 c=2", want: []kv{{"c", "2"}}},
		{name: "bad key utf8 strict", line: "a\xffb=1 c=2", strict: true, err: "logfmt syntax error at pos 4 : invalid key"},
		{name: "bad value utf8", line: "a=x\xffy b=\"\xef\xbf\xbd\"", want: []kv{{"a", "x y"}, {"b", " "}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := collect(func(emit func(k, v string)) error { return Logfmt(tc.line, tc.strict, tc.keepEmpty, emit) })
			if !kvsEqual(got, tc.want) {
				t.Errorf("pairs = %q, want %q", got, tc.want)
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || err.Error() != tc.err) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
			var se *LogfmtSyntaxError
			if err != nil && !errors.As(err, &se) {
				t.Errorf("err %T is not a *LogfmtSyntaxError", err)
			}
		})
	}
}

func TestLogfmtAllocs(t *testing.T) {
	const line = `level=info ts=2021-06-10T09:24:13.472094048Z caller=logging.go:66 traceID=0568b66ad2d9294c msg="POST /loki/api/v1/push (204) 16.652862ms" =bad`
	n := testing.AllocsPerRun(100, func() {
		_ = Logfmt(line, false, false, func(k, v string) {})
	})
	if n != 0 {
		t.Errorf("Logfmt allocates %v times per line", n)
	}
}

// lokiDocJSON is the document of Loki's json parser documentation.
const lokiDocJSON = `{
    "protocol": "HTTP/2.0",
    "servers": ["129.0.1.1","10.2.1.3"],
    "request": {
        "time": "6.032",
        "method": "GET",
        "host": "foo.grafana.net",
        "size": "55",
        "headers": {
          "Accept": "*/*",
          "User-Agent": "curl/7.68.0"
        }
    },
    "response": {
        "status": 401,
        "size": "228",
        "latency_seconds": "6.031"
    }
}`

func TestJSONFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want []kv
		err  error
	}{
		{name: "doc", line: lokiDocJSON, want: []kv{
			{"protocol", "HTTP/2.0"},
			{"request_time", "6.032"},
			{"request_method", "GET"},
			{"request_host", "foo.grafana.net"},
			{"request_size", "55"},
			{"request_headers_Accept", "*/*"},
			{"request_headers_User_Agent", "curl/7.68.0"},
			{"response_status", "401"},
			{"response_size", "228"},
			{"response_latency_seconds", "6.031"},
		}},
		// `{ "a.b": {c: "d"}, e: "f" }` -> `{a_b_c="d", e="f"}` in the docs
		// (with its keys quoted).
		{name: "doc sanitize", line: `{ "a.b": {"c": "d"}, "e": "f" }`, want: []kv{{"a_b_c", "d"}, {"e", "f"}}},
		{name: "nested", line: `{"a":{"b":1}}`, want: []kv{{"a_b", "1"}}},
		{name: "types", line: `{"s":"x","i":-12,"f":1.5e3,"t":true,"fa":false,"n":null,"arr":[1,{"x":2}],"o":{}}`,
			want: []kv{{"s", "x"}, {"i", "-12"}, {"f", "1.5e3"}, {"t", "true"}, {"fa", "false"}}},
		{name: "escapes", line: `{"a":"q\"b\\s\n\u00e9\ud83d\ude00"}`, want: []kv{{"a", "q\"b\\s\né😀"}}},
		{name: "bad escape", line: `{"a":"x\qy","b":"ok"}`, want: []kv{{"a", ""}, {"b", "ok"}}},
		{name: "invalid utf8", line: "{\"a\":\"x\xffy\",\"b\":\"\xef\xbf\xbd\"}", want: []kv{{"a", "x y"}, {"b", " "}}},
		{name: "key sanitize", line: `{"1a":1," x ":2,"a-b":3,"é":4,"":5,"  ":6,"ok_1":7}`,
			want: []kv{{"_1a", "1"}, {"x", "2"}, {"a_b", "3"}, {"_", "4"}, {"ok_1", "7"}}},
		// A nested part that trims to "" is left out (Loki's
		// buildSanitizedPrefixFromBuffer; checked against Loki in
		// testdata/loki_pipeline.golden).
		{name: "nested key sanitize", line: `{"1":{"2":{"a b":"x"}},"a":{"1":"y"," ":"z"}}`,
			want: []kv{{"_1_2_a_b", "x"}, {"a_1", "y"}, {"a", "z"}}},
		{name: "empty prefix", line: `{"":{"a":1}}`, want: []kv{{"a", "1"}}},
		{name: "escaped key", line: `{"a\u0062":1,"c\"d":2}`, want: []kv{{"ab", "1"}, {"c_d", "2"}}},
		{name: "whitespace", line: " \t{ \"a\" :\n1 , \"b\":{ \"c\" : \"d\" } } ", want: []kv{{"a", "1"}, {"b_c", "d"}}},
		{name: "trailing comma", line: `{"a":1,}`, want: []kv{{"a", "1"}}},
		{name: "trailing text", line: `{"a":1} and more`, want: []kv{{"a", "1"}}},
		{name: "lenient number", line: `{"a":12ab}`, want: []kv{{"a", "12ab"}}},
		{name: "empty object", line: `{}`},
		// The errors are jsonparser's, as Loki's __error_details__ has
		// them (each checked against Loki in testdata/loki_pipeline.golden).
		{name: "empty line", line: ``, err: ErrJSONObject},
		{name: "not json", line: `level=info msg=hello`, err: ErrJSONObject},
		{name: "array", line: `[{"a":1}]`, err: ErrJSONObject},
		{name: "string", line: `"x"`, err: ErrJSONObject},
		{name: "open brace", line: `{`, err: ErrJSONMalformed},
		{name: "truncated", line: `{"a":1`, want: []kv{{"a", "1"}}, err: ErrJSONArray},
		{name: "truncated after comma", line: `{"a":1,`, want: []kv{{"a", "1"}}, err: ErrJSONArray},
		{name: "truncated nested", line: `{"a":{"b":"c"`, err: ErrJSONObject},
		{name: "missing value", line: `{"a":1,"b":}`, want: []kv{{"a", "1"}}, err: ErrJSONValue},
		{name: "cut after colon", line: `{"a":`, err: ErrJSONMalformed},
		{name: "missing colon", line: `{"a" 1}`, err: ErrJSONMalformed},
		{name: "bad literal", line: `{"a":tru}`, err: ErrJSONValue},
		{name: "undefined", line: `{"a":undefined}`, err: ErrJSONValue},
		{name: "unquoted key", line: `{a:1}`, err: ErrJSONObject},
		{name: "bad key escape", line: `{"a\q":1}`, err: ErrJSONEscape},
		{name: "unterminated string", line: `{"a":"x}`, err: ErrJSONString},
		{name: "unterminated array", line: `{"a":[1,2}`, err: ErrJSONArray},
		{name: "lenient token", line: `{"a":1;"b":2}`, want: []kv{{"a", `1;"b":2`}}},
		{name: "bad separator", line: `{"a":"1";"b":2}`, want: []kv{{"a", "1"}}, err: ErrJSONObject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := collect(func(emit func(k, v string)) error { return JSONFields(tc.line, emit) })
			if !kvsEqual(got, tc.want) {
				t.Errorf("fields = %q, want %q", got, tc.want)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

// TestJSONFieldsDeep: objects nest up to shape.MaxDepth levels (the
// line's own is one); deeper is ErrJSONTooDeep, the fields before
// emitted, however deep the line goes.
func TestJSONFieldsDeep(t *testing.T) {
	nest := func(levels int) string {
		return `{"l":"w",` + strings.Repeat(`"a":{`, levels-1) + `"x":1` + strings.Repeat("}", levels)
	}
	got, err := collect(func(emit func(k, v string)) error { return JSONFields(nest(shape.MaxDepth), emit) })
	if err != nil || len(got) != 2 || got[1].v != "1" || len(got[1].k) != 2*(shape.MaxDepth-1)+1 {
		t.Fatalf("%d levels: %d fields, err %v", shape.MaxDepth, len(got), err)
	}
	for _, levels := range []int{shape.MaxDepth + 1, 1_000_000} {
		got, err = collect(func(emit func(k, v string)) error { return JSONFields(nest(levels), emit) })
		if !errors.Is(err, ErrJSONTooDeep) || len(got) != 1 || got[0].k != "l" {
			t.Fatalf("%d levels: %v, %v", levels, got, err)
		}
	}
}

func TestJSONFieldsAllocs(t *testing.T) {
	const line = `{"level":"info","ts":1623317053.472,"caller":"logging.go:66","msg":"POST /loki/api/v1/push (204) 16.652862ms","ok":true,"tags":["a","b"]}`
	n := testing.AllocsPerRun(100, func() {
		_ = JSONFields(line, func(k, v string) {})
	})
	if n != 0 {
		t.Errorf("JSONFields allocates %v times per flat line", n)
	}
}

func TestJSONExpr(t *testing.T) {
	for _, tc := range []struct {
		expr, want string
		ok         bool
	}{
		// Loki's documentation: `| json first_server="servers[0]",
		// ua="request.headers[\"User-Agent\"]"` and `| json
		// server_list="servers", headers="request.headers"`.
		{`servers[0]`, "129.0.1.1", true},
		{`request.headers["User-Agent"]`, "curl/7.68.0", true},
		{`servers`, `["129.0.1.1","10.2.1.3"]`, true},
		{`request.headers`, "{\n          \"Accept\": \"*/*\",\n          \"User-Agent\": \"curl/7.68.0\"\n        }", true},
		{`response.status`, "401", true},
		{`["response"]["size"]`, "228", true},
		{` request . method `, "GET", true},
		{`servers[ 1 ]`, "10.2.1.3", true},
		{`servers[2]`, "", false},
		{`missing`, "", false},
		{`request.missing.deeper`, "", false},
		{`protocol[0]`, "", false},
	} {
		e, err := ParseJSONExpr(tc.expr)
		if err != nil {
			t.Errorf("ParseJSONExpr(%q): %v", tc.expr, err)
			continue
		}
		if got, ok := e.Extract(lokiDocJSON); got != tc.want || ok != tc.ok {
			t.Errorf("%q: got %q, %v, want %q, %v", tc.expr, got, ok, tc.want, tc.ok)
		}
	}

	line := `{"n":null,"s":"a\"b\u00e9","t":true,"x":1e3,"list":[{"k":"v"}],"bad":"\q"}`
	for _, tc := range []struct {
		expr, want string
		ok         bool
	}{
		{"n", "", true},
		{"s", `a"bé`, true},
		{"t", "true", true},
		{"x", "1e3", true},
		{`list[0].k`, "v", true},
		{`list[0]["k"]`, "v", true},
		{"bad", "", true},
	} {
		got, ok, err := JSONPath(line, tc.expr)
		if err != nil || got != tc.want || ok != tc.ok {
			t.Errorf("JSONPath(%q) = %q, %v, %v; want %q, %v", tc.expr, got, ok, err, tc.want, tc.ok)
		}
	}

	for _, bad := range []string{"", "  ", "a.", "a..b", ".a", "a[1.5]", "a[", `a["b`, `a["b"`, "1a", "a b", "a.0", "a[-1]", "a]", "a-b", `a[x]`} {
		if _, err := ParseJSONExpr(bad); err == nil {
			t.Errorf("ParseJSONExpr(%q) accepted", bad)
		}
	}

	if _, _, err := JSONPath("level=info", "a"); !errors.Is(err, ErrJSONNotObject) {
		t.Errorf("JSONPath on a logfmt line: err = %v", err)
	}
	for _, l := range []string{"", `{"a":1}`, `["x"]`, `"s"`} {
		if err := ValidateJSONLine(l); err != nil {
			t.Errorf("ValidateJSONLine(%q) = %v", l, err)
		}
	}
	if err := ValidateJSONLine(` {"a":1}`); err == nil {
		t.Error("ValidateJSONLine accepts a leading blank, Loki does not")
	}
}

func TestPattern(t *testing.T) {
	const (
		nginx = `0.191.12.2 - - [10/Jun/2021:09:14:29 +0000] "GET /api/plugins/versioncheck HTTP/1.1" 200 2 "-" "Go-http-client/2.0" "13.76.247.102, 34.120.177.193" "TLSv1.2" "US" ""`
		loki  = `level=debug ts=2021-06-10T09:24:13.472094048Z caller=logging.go:66 traceID=0568b66ad2d9294c msg="POST /loki/api/v1/push (204) 16.652862ms"`
	)
	for _, tc := range []struct {
		name, pattern, line string
		want                []kv
		complete            bool
	}{
		// The examples of Loki's pattern parser documentation.
		{"doc nginx", `<ip> - - <_> "<method> <uri> <_>" <status> <size> <_> "<agent>" <_>`, nginx,
			[]kv{{"ip", "0.191.12.2"}, {"method", "GET"}, {"uri", "/api/plugins/versioncheck"}, {"status", "200"}, {"size", "2"}, {"agent", "Go-http-client/2.0"}}, true},
		{"doc msg", `<_> msg="<method> <path> (<status>) <latency>"`, loki,
			[]kv{{"method", "POST"}, {"path", "/loki/api/v1/push"}, {"status", "204"}, {"latency", "16.652862ms"}}, true},
		{"apache", `<ip> - <_> [<ts>] "<method> <uri> <_>" <status>`, `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`,
			[]kv{{"ip", "127.0.0.1"}, {"ts", "10/Oct/2000:13:55:36 -0700"}, {"method", "GET"}, {"uri", "/apache_pb.gif"}, {"status", "200 2326"}}, true},
		{"anchored literal", `GET <path>`, `GET /x`, []kv{{"path", "/x"}}, true},
		{"anchored literal mismatch", `GET <path>`, `POST GET /x`, nil, false},
		{"missing literal takes the rest", `<a> x <b> y <c>`, `1 x 2 z 3`, []kv{{"a", "1"}, {"b", "2 z 3"}}, false},
		{"missing first literal", `<a> - <b>`, `no dash`, []kv{{"a", "no dash"}}, false},
		{"trailing literal ignores rest", `<a>;`, `x;y;z`, []kv{{"a", "x"}}, true},
		{"empty capture", `<a>,<b>`, `,x`, []kv{{"a", ""}, {"b", "x"}}, true},
		{"empty line", `<a>`, ``, nil, false},
		{"utf8 literal", `<a>é<b>`, `xéy`, []kv{{"a", "x"}, {"b", "y"}}, true},
		{"not captures", `<1a> <a> < b> <c`, `<1a> x < b> <c`, []kv{{"a", "x"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := CompilePattern(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			var got []kv
			complete := p.Match(tc.line, func(k, v string) { got = append(got, kv{k, v}) })
			if !kvsEqual(got, tc.want) || complete != tc.complete {
				t.Errorf("Match = %q, %v; want %q, %v", got, complete, tc.want, tc.complete)
			}
		})
	}

	p, _ := CompilePattern(`<ip> - <_> "<method>"`)
	if got := strings.Join(p.Names(), ","); got != "ip,method" {
		t.Errorf("Names = %s", got)
	}

	for _, bad := range []struct {
		pattern string
		err     error
	}{
		{"", ErrPatternNoCapture},
		{"foo", ErrPatternNoCapture},
		{"<_> foo <_>", ErrPatternNoCapture},
		{"<a><b>", ErrPatternInvalid},
		{"x <a><_>", ErrPatternInvalid},
		{"<_><a>", ErrPatternInvalid},
		{"<a> <a>", ErrPatternInvalid},
	} {
		if _, err := CompilePattern(bad.pattern); !errors.Is(err, bad.err) {
			t.Errorf("CompilePattern(%q) = %v, want %v", bad.pattern, err, bad.err)
		}
	}
}

func TestPatternMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, line string
		want          bool
	}{
		// The examples in the comments of Loki's Matcher.Test.
		{"<_> bar", "foo bar baz", false},
		{"<_> baz", "foo bar baz", true},
		{"foo <_>", "foo bar baz", true},
		{"<_> bar <_>", " bar ", false},
		{"<_>bar<_>", " bar ", true},
		{"<_> error <_>", "level=error msg=x", false},
		{"<_> error <_>", "an error occurred", true},
		{"<_> error", "an error", true},
		{"<_> error", "an error occurred", false},
		{"foo <_>", "xfoo bar", true}, // not anchored, as Loki's filter
		{"foo <_>", "foo ", false},    // captures are not empty
		{"<_>", "anything", true},
		{"<_>", "", false},
		{"", "", true},
		{"", "x", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"a<_>a", "aa", false},
		{"a<_>a", "aba", true},
	} {
		p, err := CompileLinePattern(tc.pattern)
		if err != nil {
			t.Errorf("CompileLinePattern(%q): %v", tc.pattern, err)
			continue
		}
		if got := p.Matches(tc.line); got != tc.want {
			t.Errorf("%q.Matches(%q) = %v, want %v", tc.pattern, tc.line, got, tc.want)
		}
	}
	if _, err := CompileLinePattern("<a> error"); !errors.Is(err, ErrPatternCaptureNotAllowed) {
		t.Errorf("named capture in a line filter: %v", err)
	}
	if _, err := CompileLinePattern("<_><_>"); !errors.Is(err, ErrPatternInvalid) {
		t.Errorf("consecutive captures in a line filter: %v", err)
	}
}

func TestDecolorize(t *testing.T) {
	for in, want := range map[string]string{
		"plain line":                "plain line",
		"\x1b[31mred\x1b[0m":        "red",
		"\x1b[1;32mINFO\x1b[0m msg": "INFO msg",
		"\u009b31mcsi":              "csi",
		"\x1b]0;title\x07text":      "text",
		"a\x1b[2Kb":                 "ab",
		"\x1b[38;5;196mcolour\x1b[39m and \x1b[m.": "colour and .",
		"lone \x1b escape":                         "lone \x1b escape",
	} {
		if got := DecolorizeLine(in); got != want {
			t.Errorf("DecolorizeLine(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(10, func() { _ = DecolorizeLine("no colours here") }); n != 0 {
		t.Errorf("DecolorizeLine allocates %v times for a plain line", n)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]float64{
		// Loki's documented units and examples.
		"42": 42, "42MB": 42e6, "1.5KiB": 1536, "20B": 20, "20KB": 20e3, "20MB": 20e6,
		"5kB": 5e3, "1GB": 1e9, "1TB": 1e12, "1MiB": 1 << 20, "1GiB": 1 << 30, "1TiB": 1 << 40,
		"5KB": 5000, "5KiB": 5120, "1.5 MB": 1.5e6, "10b": 10, "1,000k": 1e6, "2 gi": 2 << 30,
		"1PB": 1e15, "1EiB": 1 << 60, ".5k": 500, "0.5b": 0, "0": 0,
	} {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-5", "5 XB", "abc", "1.2.3", "MB", " 5", "1e3", "20EB"} {
		if v, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) = %v, want an error", bad, v)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]float64{
		// Loki's documented duration examples.
		"300ms": 0.3, "1.5h": 5400, "2h45m": 9900, "0.10ms": 0.0001, "1h30m": 5400,
		"1m30s": 90, "250ms": 0.25, "10s": 10, "-2us": -2e-6, "1µs": 1e-6, "0": 0,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "5", "1.5", "1d", "ms", "1m 30s"} {
		if v, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, v)
		}
	}
}

func execTemplate(text string, lbls map[string]string, line string, ts int64) (string, error) {
	tm, err := NewTemplate(text)
	if err != nil {
		return "", err
	}
	return tm.Execute(line, ts, func(n string) (string, bool) { v, ok := lbls[n]; return v, ok },
		func() map[string]string { return lbls })
}

func TestTemplate(t *testing.T) {
	lbls := map[string]string{
		"path": "a b c d e", "err": "ErrTimeout", "ip": "1.1.1.1", "status": "200", "duration": "3000",
		"query": "sum(rate(x[1m]))\nby (job)", "remote_addr": "129.168.1.1", "request_uri": "/id/609259548/hpr.html",
		"request_method": "GET", "cluster": "prod-cluster", "some_label": "aaabc xbc", "timestamp": "ts=123",
		"from": "1679577215", "createDate": "2021-11-02", "nowEpoch": "1635897600", "createDateEpoch": "1635811200",
		"queries": `[{"query":"up"},{"query":"sum(x)"}]`, "size": "1KiB", "took": "1m30s", "n": "7", "hex": "0x1f",
		"url": "https://a.b/c?d=e f",
	}
	const line = "Hello World"
	ts := time.Date(2021, 6, 10, 9, 14, 29, 123456789, time.UTC).UnixNano()
	for _, tc := range []struct{ tmpl, want string }{
		// Loki's line_format and template_functions documentation.
		{`{{ .path | replace " " "_" | trunc 5 | upper }}`, "A_B_C"},
		{`{{ if and (contains "he" "hello") (contains "llo" "hello") }} yes {{end}}`, " yes "},
		{`{{ if or (contains "he" "hello") (contains "llo" "hello") }} yes {{end}}`, " yes "},
		{`{{ if contains .err "ErrTimeout" }} timeout {{else if contains "he" "hello"}} yes {{else}} no {{end}}`, " timeout "},
		{`{{.ip}} {{.status}} {{div .duration 1000}}`, "1.1.1.1 200 3"},
		{`{{ .path }}`, "a b c d e"},
		{`{{ __line__ | lower }}`, "hello world"},
		{`{{ __line__ }}`, line},
		{`{{ __timestamp__ | unixEpoch }}`, "1623316469"},
		{`{{ __timestamp__ | unixEpochMillis }}`, "1623316469123"},
		{`{{ __timestamp__ | unixEpochNanos }}`, "1623316469123456789"},
		{`{{ toDateInZone "2006-01-02" "UTC" "2021-11-02" | unixEpoch }}`, "1635811200"},
		{`{{ .createDate | toDateInZone "2006-01-02" "America/New_York" | unixEpoch }}`, "1635825600"},
		{`{{ toDateInZone "2006-01-02" "Nowhere/Land" "2021-11-02" | unixEpoch }}`, "1635811200"},
		{`{{ unixToTime .from | unixEpoch }}`, "1679577215"},
		{`{{ unixToTime "19373" | unixEpoch }}`, "1673827200"},
		{`{{ unixToTime "1679577215123" | unixEpochMillis }}`, "1679577215123"},
		{`{{ unixToTime "1679577215123456" | unixEpochNanos }}`, "1679577215123456000"},
		{`{{ unixToTime "1679577215123456789" | unixEpochNanos }}`, "1679577215123456789"},
		{`{{ sub .nowEpoch .createDateEpoch }}`, "86400"},
		{`{{ alignLeft 5 "hello world"}}`, "hello"},
		{`{{ alignLeft 5 "hi"}}`, "hi   "},
		{`{{ alignRight 5 "hello world"}}`, "world"},
		{`{{ alignRight 5 "hi"}}`, "   hi"},
		{`{{ alignLeft 3 "héllo"}}|{{ alignLeft -1 "x" }}`, "hél|x"},
		{`{{ "hello" | b64enc }}`, "aGVsbG8="},
		{`{{ b64dec "aGVsbG8=" }}`, "hello"},
		{`{{ b64dec "!!" }}`, "illegal base64 data at input byte 0"},
		{`{{ .size | bytes }}`, "1024"},
		{`{{ bytes "1.5 MB" }}`, "1.5e+06"},
		{`{{ .took | duration }} {{ duration_seconds "250ms" }}`, "90 0.25"},
		{`{{ default "-" "" }}`, "-"},
		{`{{ default "-" "foo" }}`, "foo"},
		{`{{ .http_request_headers_x_forwarded_for | default "-" }}`, "-"},
		{`{{ default 5 0 }}|{{ default "x" false }}|{{ default "x" (fromJson "[]") }}`, "5|x|x"},
		{`{{fromJson "{\"foo\": 55}"}}`, "map[foo:55]"},
		{`{{ range $q := fromJson .queries }} {{ $q.query }} {{ end }}`, " up  sum(x) "},
		{`[{{ fromJson "not json" }}]{{ range fromJson "{" }}x{{ end }}`, "[]"},
		{`{{ .request_method | lower }} {{ lower "HELLO"}}`, "get hello"},
		{`{{ indent 4 .query }}`, "    sum(rate(x[1m]))\n    by (job)"},
		{`{{ nindent 2 "a" }}`, "\n  a"},
		{`{{ repeat 3 "hello" }}`, "hellohellohello"},
		{`{{ printf "The IP address was %s" .remote_addr }}`, "The IP address was 129.168.1.1"},
		{`{{ printf "%-40.40s" .request_uri}} {{printf "%-5.5s" .request_method}}`, "/id/609259548/hpr.html                   GET  "},
		{`{{ printf "%%|%5d|%-4x|%.2f|%[1]d" 42 255 3.14159 }}`, "%|   42|ff  |3.14|42"},
		{`{{ .cluster | replace "-cluster" "" }}`, "prod"},
		{`{{ replace "hello" "world" "hello world" }}`, "world world"},
		{`{{ Replace "aaa" "a" "b" 2 }}`, "bba"},
		{`{{ .path | substr 2 5 }}`, "b c"},
		{`{{ substr 0 5 "hello world"}}`, "hello"},
		{`{{ substr 6 11 "hello world"}}`, "world"},
		{`{{ substr -1 2 "héllo"}}|{{ substr 3 -1 "héllo"}}|{{ substr 4 2 "x" }}|{{ substr 1 99 "héllo" }}`, "hé|lo||éllo"},
		{`{{ title "hello world"}}`, "Hello World"},
		{`{{ title "o'neil is_here x-y" }}`, "O'Neil Is_here X-Y"},
		{`{{ trim "   hello    " }}`, "hello"},
		{`{{ trimAll "$" "$5.00" }}`, "5.00"},
		{`{{ trimPrefix "-" "-hello" }}`, "hello"},
		{`{{ trimSuffix "-" "hello-" }}`, "hello"},
		{`{{ trunc 5 "hello world"}}`, "hello"},
		{`{{ trunc -5 "hello world"}}`, "world"},
		{`{{ trunc 2 "héllo" }}|{{ trunc 9 "ab" }}|{{ trunc -9 "ab" }}`, "hé|ab|ab"},
		{`{{ upper "hello"}}`, "HELLO"},
		{`{{ .url | urlencode }}`, "https%3A%2F%2Fa.b%2Fc%3Fd%3De+f"},
		{`{{ urldecode "a%20b+c" }}`, "a b c"},
		{`{{ if eq "hello" "hello" }} yes {{end}}`, " yes "},
		{`{{ if hasPrefix "he" "hello" }}p{{end}}{{ if hasSuffix "lo" "hello" }}s{{end}}`, "ps"},
		{`{{ ToLower "AB" }}{{ ToUpper "cd" }}{{ Trim "xxyxx" "x" }}{{ TrimLeft "xxy" "x" }}{{ TrimRight "yxx" "x" }}{{ TrimPrefix "ab" "a" }}{{ TrimSuffix "ab" "b" }}{{ TrimSpace " z " }}`, "abCDyyyba" + "z"},
		{`{{ add 3 2 5 }}`, "10"},
		{`{{ addf 3.5 2 5 }}`, "10.5"},
		{`{{ addf 0.1 0.2 }}`, "0.3"},
		{`{{ ceil 123.001 }}`, "124"},
		{`{{ div 10 2}}`, "5"},
		{`{{ divf 10 2 4}}`, "1.25"},
		{`{{ divf 1 3 }}`, "0.3333333333333333"},
		{`{{ "3.5" | float64 }}`, "3.5"},
		{`{{ floor 123.9999 }}`, "123"},
		{`{{ "3" | int }}`, "3"},
		{`{{ int "3.0" }} {{ int .hex }} {{ int "010" }} {{ int "08" }} {{ int 3.9 }} {{ int "x" }}`, "3 31 8 0 3 0"},
		{`{{ max 1 2 3 }}`, "3"},
		{`{{ maxf 1 2.5 3 }}`, "3"},
		{`{{ min 1 2 3 }}`, "1"},
		{`{{ minf 1 2.5 3 }}`, "1"},
		{`{{ mul 5 2 3}}`, "30"},
		{`{{ mulf 5.5 2 2.5 }}`, "27.5"},
		{`{{ mod 10 3}}`, "1"},
		{`{{ round 123.555555 3 }}`, "123.556"},
		{`{{ round 123.88571428571 5 .2 }}`, "123.88572"},
		{`{{ round 123.88571428571 5 }}`, "123.88571"},
		{`{{ sub 5 2 }}`, "3"},
		{`{{ subf  5.5 2 1.5 }}`, "2"},
		{`{{ add .n "3" true }}`, "11"},
		{`{{ count "a|b" "abab" }}`, "4"},
		{`{{ count "o" "foo" }}`, "2"},
		{`{{ __line__ | count "o" }}`, "2"},
		{`{{ regexReplaceAll "(a*)bc" .some_label "${1}a" }}`, "aaaa xa"},
		{`{{ regexReplaceAllLiteral "(ts=)" .timestamp "timestamp=" }}`, "timestamp=123"},
		{`{{ regexReplaceAll "" "abc" "-" }}`, "-a-b-c-"},
		{`{{ regexReplaceAll "a*" "baaac" "[$0]" }}`, "[]b[aaa]c[]"},
		{`{{ date "2006-01-02" (toDateInZone "2006-01-02" "UTC" "2021-11-02") | len }}`, "10"},
		{`{{range $k, $v := .}}{{if hasPrefix "re" $k}}{{$k}}={{$v}} {{end}}{{end}}`, "remote_addr=129.168.1.1 request_method=GET request_uri=/id/609259548/hpr.html "},
		{`{{ $.status }}`, "200"},
		{`{{ .message }}`, ""},
		{`{{define "x"}}<{{.}}>{{end}}{{template "x" .status}}`, "<200>"},
	} {
		got, err := execTemplate(tc.tmpl, lbls, line, ts)
		if err != nil || got != tc.want {
			t.Errorf("%s\n got  %q, %v\n want %q", tc.tmpl, got, err, tc.want)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, bad := range []string{`{{.foo`, `{{ nosuchfunc }}`, `{{ end }}`} {
		if _, err := NewTemplate(bad); err == nil {
			t.Errorf("NewTemplate(%q) accepted", bad)
		}
	}
	lbls := map[string]string{"a": "x", "zero": "0"}
	for _, tc := range []string{
		`{{ div 1 0 }}`, `{{ mod 1 .zero }}`, `{{ divf 1 0 }}`, `{{ .a.b }}`, `{{ regexReplaceAll "(" "x" "y" }}`,
		`{{ count "[" "x" }}`, `{{ repeat -1 "x" }}`, `{{ indent -1 "x" }}`, `{{ urldecode "%zz" }}`,
		`{{ unixToTime "123" }}`, `{{ unixToTime "x" }}`, `{{ bytes "x" }}`, `{{ duration "5" }}`, `{{ printf "%*d" 3 1 }}`,
		`{{ addf "NaN" 1 }}`, `{{ template "missing" }}`,
	} {
		if out, err := execTemplate(tc, lbls, "", 0); err == nil {
			t.Errorf("%s executed: %q", tc, out)
		}
	}
}

func TestTemplateLimits(t *testing.T) {
	lbls := map[string]string{}
	for i := 0; i < 200; i++ {
		lbls[fmt.Sprintf("l%03d", i)] = strings.Repeat("v", 100)
	}
	big := strings.Repeat("x", 1<<20)
	for _, tc := range []string{
		`{{ repeat 1000000000 "x" }}`,
		`{{ repeat 9223372036854775807 "xx" }}`,
		`{{ range 1000000000 }}{{ end }}`,
		`{{ range . }}{{ range $ }}{{ range $ }}{{ range $ }}{{ end }}{{ end }}{{ end }}{{ end }}`,
		`{{ define "a" }}{{ template "a" . }}{{ template "a" . }}{{ end }}{{ template "a" . }}`,
		`{{ $a := "xx" }}{{ range 100 }}{{ $a = print $a $a }}{{ end }}{{ len $a }}`,
		`{{ $a := "xx" }}{{ range 100 }}{{ $a = printf "%s%s" $a $a }}{{ end }}{{ len $a }}`,
		`{{ $a := "xx" }}{{ range 100 }}{{ $a = replace "x" "xx" $a }}{{ end }}{{ len $a }}`,
		`{{ $a := "xx" }}{{ range 100 }}{{ $a = regexReplaceAll "x" $a "$0$0" }}{{ end }}{{ len $a }}`,
		`{{ $a := "xx" }}{{ range 100 }}{{ $a = html (print $a $a) }}{{ end }}{{ len $a }}`,
		`{{ indent 1000000000 "a" }}`,
		`{{ nindent 100000 (repeat 100000 "\n") }}`,
		`{{ alignLeft 1000000000 "a" }}`,
		`{{ alignRight 1000000000 "a" }}`,
		`{{ printf "` + strings.Repeat("%0999999d", 100) + `" }}`,
		`{{ regexReplaceAll "" __line__ "` + strings.Repeat("$0", 1000) + `" }}`,
		`{{ replace "" (repeat 1000 "y") __line__ }}`,
		`{{ range 100 }}{{ __line__ }}{{ end }}`,
		`{{ range 1000 }}{{ contains "y" __line__ }}{{ end }}`,
		`{{ range 10000 }}{{ fromJson "[1]" }}{{ end }}{{ fromJson (repeat 3000000 "1") }}`,
	} {
		tm, err := NewTemplate(tc)
		if err != nil {
			t.Errorf("NewTemplate(%.60q): %v", tc, err)
			continue
		}
		// The bound is on work, not time: each case must stop with the
		// limit error (how fast is BenchmarkTemplate's business).
		out, err := tm.Execute(big, 0, func(n string) (string, bool) { v, ok := lbls[n]; return v, ok },
			func() map[string]string { return lbls })
		if err == nil {
			t.Errorf("%.60q: no error, %d bytes of output", tc, len(out))
		} else if !errors.Is(err, ErrTemplateLimit) && !strings.Contains(err.Error(), "maximum template depth") {
			t.Errorf("%.60q: %v", tc, err)
		}
	}
	// The limit is generous for real templates.
	out, err := execTemplate(`{{ range $k, $v := . }}{{ $k }}={{ $v | upper }} {{ end }}`, lbls, big, 0)
	if err != nil || len(out) != 200*(4+1+100+1) {
		t.Errorf("labels loop: %d bytes, %v", len(out), err)
	}
	if out, err := execTemplate(`{{ __line__ }}`, nil, big, 0); err != nil || out != big {
		t.Errorf("1 MiB line: %d bytes, %v", len(out), err)
	}
}

func TestTemplateFields(t *testing.T) {
	tm, err := NewTemplate(`{{ .a }}-{{ if .b }}{{ .c | upper }}{{ end }}`)
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	out, err := tm.Execute("", 0, func(n string) (string, bool) {
		asked = append(asked, n)
		if n == "c" {
			return "", false
		}
		return n, true
	}, func() map[string]string { t.Error("all() called"); return nil })
	if err != nil || out != "a-" {
		t.Errorf("got %q, %v", out, err)
	}
	sort.Strings(asked)
	if strings.Join(asked, ",") != "a,b,c" {
		t.Errorf("labels asked: %v", asked)
	}

	// Loki's fast path for {{.key}} never executes the template.
	tm, _ = NewTemplate(`{{.message}}`)
	if tm.simpleKey != "message" {
		t.Errorf("simpleKey = %q", tm.simpleKey)
	}
}

func TestTemplateConcurrent(t *testing.T) {
	tm, err := NewTemplate(`{{ __line__ }}|{{ .n }}|{{ __timestamp__ | unixEpochNanos }}`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				n := fmt.Sprint(g*1000 + i)
				out, err := tm.Execute("line"+n, int64(i), func(string) (string, bool) { return n, true }, nil)
				if want := "line" + n + "|" + n + "|" + fmt.Sprint(i); err != nil || out != want {
					t.Errorf("got %q, %v, want %q", out, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// lokiJSONFields is Loki's JSONParser (pkg/logql/log/parser.go) reduced to
// its extraction, as an oracle for JSONFields.
func lokiJSONFields(line string) ([]kv, error) {
	var out []kv
	var prefix []byte
	var parse func(key, value []byte, typ jsonparser.ValueType, _ int) error
	parse = func(key, value []byte, typ jsonparser.ValueType, _ int) error {
		switch typ {
		case jsonparser.String, jsonparser.Number, jsonparser.Boolean:
		case jsonparser.Object:
			n := len(prefix)
			if n != 0 {
				prefix = append(prefix, '_')
			}
			prefix = appendSanitizedKey(prefix, key)
			err := jsonparser.ObjectEach(value, parse)
			prefix = prefix[:n]
			return err
		default:
			return nil
		}
		var v string
		switch typ {
		case jsonparser.String:
			v = jsonStringValue(string(value), bytes.IndexByte(value, '\\') >= 0)
		case jsonparser.Boolean:
			v = "false"
			if string(value) == "true" {
				v = "true"
			}
		default:
			v = string(value)
		}
		var k string
		if len(prefix) == 0 {
			k = string(appendSanitizedKey(nil, key))
			if k == "" {
				return nil
			}
		} else {
			k = string(prefix) + "_" + string(appendSanitizedRunes(nil, bytes.TrimSpace(key)))
		}
		out = append(out, kv{k, v})
		return nil
	}
	err := jsonparser.ObjectEach([]byte(line), parse)
	return out, err
}

func FuzzLogfmt(f *testing.F) {
	for _, s := range []string{
		`at=info method=GET path=/ host=grafana.net fwd="124.133.124.161" service=8ms status=200`,
		`=value foo=bar=buzz fo"o=bar a="\u00e9\ud83d\ude00" b="x\"y" c`, "a=\"\xff\" \xff=1 k=\"unterminated",
		`a="\x" b= c="" d`, "",
	} {
		f.Add(s, false, false)
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, line string, strict, keepEmpty bool) {
		var loose []kv
		if err := Logfmt(line, false, keepEmpty, func(k, v string) { loose = append(loose, kv{k, v}) }); err != nil {
			t.Fatalf("non-strict error: %v", err)
		}
		for _, p := range loose {
			if p.k == "" || strings.ContainsAny(p.k, "=\"") || strings.IndexFunc(p.k, func(r rune) bool { return r <= ' ' }) >= 0 {
				t.Fatalf("bad key %q", p.k)
			}
			if !utf8.ValidString(p.v) || strings.ContainsRune(p.v, utf8.RuneError) {
				t.Fatalf("bad value %q", p.v)
			}
			if !keepEmpty && p.v == "" {
				t.Fatalf("empty value for %q", p.k)
			}
		}
		if !strict {
			return
		}
		var tight []kv
		err := Logfmt(line, true, keepEmpty, func(k, v string) { tight = append(tight, kv{k, v}) })
		if len(tight) > len(loose) || !kvsEqual(tight, loose[:len(tight)]) {
			t.Fatalf("strict pairs %q are not a prefix of %q", tight, loose)
		}
		if err == nil && !kvsEqual(tight, loose) {
			t.Fatalf("strict without error: %q, non-strict %q", tight, loose)
		}
	})
}

func FuzzJSONFields(f *testing.F) {
	for _, s := range []string{
		lokiDocJSON, `{"a":{"b":1}}`, `{"1":{" x ":[1,{"y":2}],"n":null}}`, `{"a\u0062":"\ud83d\ude00\q"}`,
		`{"a":1,}`, `{"a":"x`, `not json`, `{"a":{"b":[}]}}`, "{\"0\":0\xc0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		got, err := collect(func(emit func(k, v string)) error { return JSONFields(line, emit) })
		for _, p := range got {
			if !events.IsLabelName(p.k) {
				t.Fatalf("key %q is not a label name", p.k)
			}
			if !utf8.ValidString(p.v) || strings.ContainsRune(p.v, utf8.RuneError) {
				t.Fatalf("bad value %q", p.v)
			}
		}
		if !json.Valid([]byte(line)) {
			return
		}
		if errors.Is(err, ErrJSONTooDeep) {
			if strings.Count(line, "{") <= shape.MaxDepth {
				t.Fatalf("too deep with %d braces", strings.Count(line, "{"))
			}
			return // Loki's parser goes on
		}
		want, werr := lokiJSONFields(line)
		if (err == nil) != (werr == nil) || !kvsEqual(got, want) {
			t.Fatalf("JSONFields = %q, %v; Loki's parser %q, %v", got, err, want, werr)
		}
		if strings.HasPrefix(strings.TrimLeft(line, " \t\r\n"), "{") && err != nil {
			t.Fatalf("valid object rejected: %v", err)
		}
	})
}

func FuzzPattern(f *testing.F) {
	f.Add(`<ip> - <_> [<ts>] "<method> <uri> <_>" <status>`, `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`)
	f.Add(`<_> msg="<method> <path> (<status>) <latency>"`, `level=debug msg="POST /push (204) 16ms"`)
	f.Add(`foo <a>`, `foo bar`)
	f.Add(`<a>,<b>`, `,`)
	f.Add(`<_> error <_>`, `an error here`)
	f.Add("<A>\x80<A>", "0\x800")
	f.Fuzz(func(t *testing.T, pattern, line string) {
		if p, err := CompilePattern(pattern); err == nil {
			var got []kv
			complete := p.Match(line, func(k, v string) { got = append(got, kv{k, v}) })
			names := p.Names()
			if len(got) > len(names) {
				t.Fatalf("%d captures for %d names", len(got), len(names))
			}
			for i, c := range got {
				if c.k != names[i] || !strings.Contains(line, c.v) {
					t.Fatalf("capture %d = %q, names %q", i, c, names)
				}
			}
			if complete && len(got) != len(names) {
				t.Fatalf("complete match with %d of %d captures", len(got), len(names))
			}
			if complete && !strings.Contains(pattern, "<_>") {
				var b strings.Builder
				i := 0
				for _, n := range p.nodes {
					if n.capture {
						b.WriteString(got[i].v)
						i++
					} else {
						b.WriteString(n.text)
					}
				}
				if !strings.HasPrefix(line, b.String()) || (p.nodes[len(p.nodes)-1].capture && line != b.String()) {
					t.Fatalf("captures rebuild %q, not the line %q", b.String(), line)
				}
			}
		}
		filter := regexp.MustCompile(`<[A-Za-z_][A-Za-z0-9_]*>`).ReplaceAllString(pattern, "<_>")
		p, err := CompileLinePattern(filter)
		if err != nil {
			return
		}
		if p.Matches(line) && utf8.ValidString(filter) {
			// A match is a decomposition of the line: it must satisfy the
			// regexp with one non-empty group per capture.
			var re strings.Builder
			re.WriteString(`^`)
			for _, n := range p.nodes {
				if n.capture {
					re.WriteString(`(?s:.+)`)
				} else {
					re.WriteString(regexp.QuoteMeta(n.text))
				}
			}
			re.WriteString(`$`)
			if !regexp.MustCompile(re.String()).MatchString(line) {
				t.Fatalf("%q matches %q, but not %s", filter, line, re.String())
			}
		}
	})
}

func BenchmarkLogfmt(b *testing.B) {
	const line = `level=info ts=2021-06-10T09:24:13.472094048Z caller=logging.go:66 traceID=0568b66ad2d9294c orgID=fake msg="POST /loki/api/v1/push (204) 16.652862ms" duration=16.652862ms status=204`
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		_ = Logfmt(line, false, false, func(k, v string) {})
	}
}

func BenchmarkJSONFields(b *testing.B) {
	const line = `{"level":"info","ts":"2021-06-10T09:24:13.472094048Z","caller":"logging.go:66","traceID":"0568b66ad2d9294c","msg":"POST /loki/api/v1/push (204) 16.652862ms","request":{"method":"POST","status":204,"size":1024},"tags":["a","b"]}`
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		_ = JSONFields(line, func(k, v string) {})
	}
}

func BenchmarkTemplate(b *testing.B) {
	tm, err := NewTemplate(`{{ .method | upper }} {{ .path }} took {{ .duration }}`)
	if err != nil {
		b.Fatal(err)
	}
	lbls := map[string]string{"method": "get", "path": "/api", "duration": "12ms"}
	get := func(n string) (string, bool) { v, ok := lbls[n]; return v, ok }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = tm.Execute("line", 0, get, nil)
		}
	})
}
