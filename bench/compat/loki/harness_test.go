package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCorpus reads the committed corpus: every line parses, every
// category has cases, and every endpoint case splits into a path and
// parameters.
func TestCorpus(t *testing.T) {
	f, err := os.Open("corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	cases, err := ParseCorpus(f)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, c := range cases {
		per[c.Category]++
		if c.Group == "" {
			t.Errorf("line %d: a case outside any group", c.Line)
		}
		if c.Category == catEndpoint {
			if _, _, err := endpointRequest(c.Text); err != nil {
				t.Errorf("line %d: %v", c.Line, err)
			}
		}
	}
	for _, c := range categories {
		if per[c] == 0 {
			t.Errorf("no %s cases", c)
		}
	}
	t.Logf("%d cases: %v", len(cases), per)
}

func TestParseCorpus(t *testing.T) {
	src := `# comment
## group one
@category log
@params limit=5&direction=forward
@header X-A: b
{a="b"}
@params limit=7
{c="d"}
## group two
@category endpoint
/loki/api/v1/series?match[]={a="b"}&match[]={c="d"}
@category logcli
labels env
query --limit=3 :: {a="b"} |= "x y"
`
	cases, err := ParseCorpus(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 5 {
		t.Fatalf("%d cases, want 5", len(cases))
	}
	if got := cases[0].Params.Encode(); got != "direction=forward&limit=5" {
		t.Errorf("params %q", got)
	}
	if got := cases[1].Params.Encode(); got != "direction=forward&limit=7" {
		t.Errorf("params after a second @params: %q", got)
	}
	if cases[0].Headers["X-A"] != "b" || cases[0].Group != "group one" {
		t.Errorf("case 0: %+v", cases[0])
	}
	if len(cases[2].Params) != 0 || cases[2].Group != "group two" {
		t.Errorf("a group resets the directives: %+v", cases[2])
	}
	path, q, err := endpointRequest(cases[2].Text)
	if err != nil || path != "/loki/api/v1/series" || len(q["match[]"]) != 2 {
		t.Errorf("endpoint: %q %v %v", path, q, err)
	}
	if got := logcliArgs(cases[3].Text); strings.Join(got, "|") != `labels|env` {
		t.Errorf("logcli args %q", got)
	}
	if got := logcliArgs(cases[4].Text); strings.Join(got, "|") != `query|--limit=3|{a="b"} |= "x y"` {
		t.Errorf("logcli args %q", got)
	}
	for _, bad := range []string{"{a=\"b\"}", "@category nope", "@frob x", "@category endpoint\nseries", "@category log\n@params x"} {
		if _, err := ParseCorpus(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestNormalize: the parts that may differ are gone or sorted, values are
// numbers, and diff finds what remains.
func TestNormalize(t *testing.T) {
	loki := `{"status":"success","data":{"resultType":"matrix","stats":{"summary":{"execTime":0.1}},
	  "result":[{"metric":{"b":"2"},"values":[[60,"1"],[120,"2"]]},{"metric":{"a":"1"},"values":[[60,"0.30000000000000004"]]}]}}`
	horus := `{"status":"success","data":{"resultType":"matrix",
	  "result":[{"metric":{"a":"1"},"values":[[60,"0.3"]]},{"metric":{"b":"2"},"values":[[60,"1"],[120,"2"]]}]}}`
	var out []string
	diff("", normalize("/loki/api/v1/query_range", []byte(loki), false), normalize("/loki/api/v1/query_range", []byte(horus), false), &out, 10)
	if len(out) != 0 {
		t.Errorf("same answers differ: %q", out)
	}
	shifted := strings.ReplaceAll(horus, "[60,", "[85,")
	a, b := normalize("/query_range", []byte(loki), false), normalize("/query_range", []byte(shifted), false)
	diff("", a, b, &out, 10)
	if len(out) == 0 {
		t.Fatal("shifted instants do not differ")
	}
	if !strings.Contains(out[0], ".data.result[0].values[0][0]: loki 60, horus 85") {
		t.Errorf("diff %q", out)
	}
	if h := stepHint(a, b); h == "" {
		t.Error("no step hint for shifted instants")
	}
	other := strings.ReplaceAll(horus, `[120,"2"]`, `[120,"3"]`)
	if h := stepHint(a, normalize("/query_range", []byte(other), false)); h != "" {
		t.Errorf("step hint %q for other values", h)
	}
	out = nil
	late := strings.ReplaceAll(horus, "[60,", "[60.001,")
	diff("", normalize("/query_range", []byte(loki), false), normalize("/query_range", []byte(late), false), &out, 10)
	if len(out) == 0 {
		t.Error("times a millisecond apart do not differ")
	}
	stats := normalize("/loki/api/v1/index/stats", []byte(`{"streams":1,"chunks":3,"entries":2,"bytes":10}`), false)
	if b, _ := json.Marshal(stats); string(b) != `{"bytes":10,"entries":2,"streams":1}` {
		t.Errorf("stats %s", b)
	}
	if v := normalize("/x", []byte("parse error\n"), false); v != "parse error" {
		t.Errorf("text answer %v", v)
	}
}

// TestDataset: the same seed and end give the same bodies, every line
// once, with distinct times.
func TestDataset(t *testing.T) {
	end := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	a := NewDataset(7, end, time.Hour, 3000).PushBodies(500)
	b := NewDataset(7, end, time.Hour, 3000).PushBodies(500)
	if len(a) != 6 || len(a) != len(b) {
		t.Fatalf("%d and %d bodies, want 6", len(a), len(b))
	}
	seen := map[string]bool{}
	for i := range a {
		if string(a[i]) != string(b[i]) {
			t.Fatalf("body %d differs between two runs", i)
		}
		var p struct {
			Streams []struct {
				Stream map[string]string `json:"stream"`
				Values [][]any           `json:"values"`
			} `json:"streams"`
		}
		if err := json.Unmarshal(a[i], &p); err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Streams {
			for _, v := range s.Values {
				ts := v[0].(string)
				if seen[ts] {
					t.Errorf("time %s twice", ts)
				}
				seen[ts] = true
			}
		}
	}
	if len(seen) != 3000 {
		t.Errorf("%d lines, want 3000", len(seen))
	}
}

// FuzzParseCorpus: any text is parsed or refused, never a panic.
func FuzzParseCorpus(f *testing.F) {
	f.Add("## g\n@category endpoint\n/a?b=c&d\n")
	f.Add("## g\n@category logcli\nquery :: {a=\"b\"}\n@params a=b&c=d\n@header A: b\n")
	f.Fuzz(func(t *testing.T, s string) {
		cases, err := ParseCorpus(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, c := range cases {
			if c.Category == catEndpoint {
				_, _, _ = endpointRequest(c.Text)
			}
			_ = logcliArgs(c.Text)
		}
	})
}

// TestIgnoreLabels: the names go from every label set, streams left
// equal are merged in the answer's order.
func TestIgnoreLabels(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"streams","result":[
	  {"stream":{"a":"1","level":"info"},"values":[["30","c"],["10","a"]]},
	  {"stream":{"a":"1","level":"error","level_extracted":"x"},"values":[["20","b"]]}]}}`
	v := normalize("/loki/api/v1/query_range", []byte(body), false)
	ignoreLabels(v, []string{"level"}, false)
	b, _ := json.Marshal(v)
	want := `{"data":{"result":[{"stream":{"a":"1"},"values":[["30","c"],["20","b"],["10","a"]]}],"resultType":"streams"},"status":"success"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	labels := map[string]any{"data": []any{"a", "level", "b"}}
	ignoreLabels(labels, []string{"level"}, false)
	if b, _ := json.Marshal(labels); string(b) != `{"data":["a","b"]}` {
		t.Errorf("labels %s", b)
	}
}

func TestClassify(t *testing.T) {
	got := classify([]string{".data.result[0].value[0]: loki 1796035549.75, horus 1796035549.750648", ".data.result[0].stream.level: only horus: \"info\""})
	if strings.Join(got, " ") != "level-label instant-ms" {
		t.Errorf("kinds %q", got)
	}
	// A log case is Horus' level label alone only if it agrees without
	// level; else what remains needs a kind of its own.
	for _, tc := range []struct {
		r     result
		ids   string
		whole bool
	}{
		{result{lines: []string{".data.result: loki 1 elements, horus 2"}, unlevelled: []string{}}, "level-label", true},
		{result{lines: []string{".data.result[0].stream.level: only horus: \"info\""}, unlevelled: []string{".data.result[0].values[0][1]: loki \"a\", horus \"b\""}}, "level-label", false},
		{result{lines: []string{".data.result[0].stream.level: only horus: \"info\""}, unlevelled: []string{".data.result[0].stream.trace_id: only horus: \"x\""}}, "level-label trace-id-column", true},
		{result{lines: []string{".data.result[0].metric.trace_id: only loki: \"x\""}}, "metadata-in-series", true},
		{result{lines: []string{".data.result[0].values[0][1]: loki 1, horus 2"}}, "", true},
	} {
		ids, whole := kindsOf(tc.r)
		if strings.Join(ids, " ") != tc.ids || whole != tc.whole {
			t.Errorf("%q: kinds %q %v, want %q %v", tc.r.lines, ids, whole, tc.ids, tc.whole)
		}
	}
}

// TestExplanations reads the committed explanations: every line parses,
// every case it names is a case of the corpus, and Explain classes by
// case, then by kinds, a bug winning, and leaves a kind without an entry
// unexplained.
func TestExplanations(t *testing.T) {
	ex, err := parseFile("intended.txt", ParseExplanations)
	if err != nil {
		t.Fatal(err)
	}
	cases, err := parseFile("corpus.txt", ParseCorpus)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, c := range cases {
		known[caseKey(c.Category, c.Text)] = true
	}
	for key, e := range ex.Cases {
		if !known[key] {
			t.Errorf("intended.txt line %d: no such case in corpus.txt: %s", e.Line, key)
		}
	}

	ex, err = ParseExplanations(strings.NewReader(`# c
intended kind level-label: a
bug kind metadata-in-series: b
bug case logcli series :: {a="b"} :: c
`))
	if err != nil {
		t.Fatal(err)
	}
	k := Case{Category: catLogcli, Text: `series :: {a="b"}`}
	if class, why := ex.Explain(k, nil); class != classBug || strings.Join(why, "") != "c" {
		t.Errorf("by case: %s %q", class, why)
	}
	k.Text = "labels"
	for _, tc := range []struct {
		ids   []string
		class string
	}{
		{[]string{"level-label"}, classIntended},
		{[]string{"level-label", "metadata-in-series"}, classBug},
		{[]string{"level-label", "instant-ms"}, ""},
		{nil, ""},
	} {
		if class, _ := ex.Explain(k, tc.ids); class != tc.class {
			t.Errorf("kinds %q: class %q, want %q", tc.ids, class, tc.class)
		}
	}
	for _, bad := range []string{
		"maybe kind level-label: x",
		"intended kind nope: x",
		"intended kind level-label:",
		"intended case log {a=\"b\"}",
		"intended case nope {a=\"b\"} :: x",
		"intended thing x",
		"intended kind level-label: a\nbug kind level-label: b",
	} {
		if _, err := ParseExplanations(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// FuzzParseExplanations: any text is parsed or refused, never a panic.
func FuzzParseExplanations(f *testing.F) {
	f.Add("intended kind level-label: a\nbug case logcli series :: {a=\"b\"} :: c\n")
	f.Add("bug case log x :: \n# c\n")
	f.Fuzz(func(t *testing.T, s string) {
		ex, err := ParseExplanations(strings.NewReader(s))
		if err != nil {
			return
		}
		_, _ = ex.Explain(Case{Category: catLog, Text: "x"}, []string{"level-label"})
	})
}
