package runbooks

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/horus-obs/horus/internal/query/logql"
	"github.com/horus-obs/horus/internal/query/traceql"
)

// sections are the headings every runbook has, in this order.
var sections = []string{"## What it means", "## Impact", "## Confirm", "## Likely causes in this shop", "## Mitigate", "## Escalate"}

// TestRunbooks: every runbook is titled with its alert, has every section
// in order, links only runbooks that exist, and each of its queries
// parses in its language (PromQL with Prometheus' parser, LogQL and
// TraceQL with Horus'); its Confirm section has at least two. The index
// links every runbook.
func TestRunbooks(t *testing.T) {
	names := Names()
	if len(names) < 9 {
		t.Fatalf("runbooks %v", names)
	}
	readme, ok := Read("README")
	if !ok {
		t.Fatal("no README")
	}
	prom := parser.NewParser(parser.Options{})
	link := regexp.MustCompile(`\]\(([A-Za-z]+)\.md\)`)
	for _, name := range names {
		b, ok := Read(name)
		if !ok {
			t.Fatalf("Read(%q) after Names listed it", name)
		}
		doc := string(b)
		if !strings.HasPrefix(doc, "# "+name+"\n") {
			t.Errorf("%s: not titled # %s", name, name)
		}
		at := 0
		for _, s := range sections {
			i := strings.Index(doc[at:], "\n"+s+"\n")
			if i < 0 {
				t.Errorf("%s: no section %q after the one before", name, s)
				break
			}
			at += i + 1
		}
		if !strings.Contains(string(readme), "["+name+"]("+name+".md)") {
			t.Errorf("README does not link %s", name)
		}
		for _, m := range link.FindAllStringSubmatch(doc, -1) {
			if !slices.Contains(names, m[1]) {
				t.Errorf("%s links %s.md, which is no runbook", name, m[1])
			}
		}
		confirm := doc[strings.Index(doc, "## Confirm"):strings.Index(doc, "## Likely causes")]
		if n := len(fenced.FindAllString(confirm, -1)); n < 2 {
			t.Errorf("%s: %d queries to confirm it", name, n)
		}
		for _, q := range Queries(name) {
			var err error
			switch q.Lang {
			case "promql":
				_, err = prom.ParseExpr(q.Text)
			case "logql":
				_, err = logql.Parse(q.Text)
			case "traceql":
				_, err = traceql.Parse(q.Text)
			}
			if err != nil {
				t.Errorf("%s: %s %q: %v", name, q.Lang, q.Text, err)
			}
		}
	}
}

// TestHandler: the index and each runbook as Markdown (with or without
// .md, and HEAD), a 404 naming the runbooks for an unknown alert or a
// path out of the directory, a 405 for another method.
func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	get := func(method, path string, accept ...string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for _, a := range accept {
			req.Header.Add("Accept", a)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	readme, _ := Read("README")
	one, _ := Read("CheckoutAvailabilitySLO")
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", Path, 200, string(readme)},
		{"GET", Path + "README.md", 200, string(readme)},
		{"GET", Path + "CheckoutAvailabilitySLO", 200, string(one)},
		{"GET", Path + "CheckoutAvailabilitySLO.md", 200, string(one)},
		{"HEAD", Path + "CheckoutAvailabilitySLO", 200, ""},
		{"GET", Path + "NoSuchAlert", 404, "no runbook \"NoSuchAlert\"; there are runbooks for BankAPICallsFailing, "},
		{"GET", Path + "..%2Frunbooks.go", 404, "no runbook"},
		{"GET", Path + "sub/CheckoutAvailabilitySLO", 404, "no runbook"},
		{"POST", Path + "CheckoutAvailabilitySLO", 405, "GET a runbook"},
		{"GET", "/elsewhere", 404, ""},
	} {
		status, body, h := get(c.method, c.path)
		if status != c.status || !strings.HasPrefix(body, c.body) {
			t.Errorf("%s %s: %d %.80q, want %d %.80q", c.method, c.path, status, body, c.status, c.body)
		}
		if status == 200 && h.Get("Content-Type") != "text/markdown; charset=utf-8" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, h.Get("Content-Type"))
		}
	}
	// A browser's navigation (Chromium's Accept) gets the same text as
	// text/plain, which it shows instead of downloading.
	status, body, h := get("GET", Path+"CheckoutAvailabilitySLO",
		"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8")
	if status != 200 || body != string(one) || h.Get("Content-Type") != "text/plain; charset=utf-8" || h.Get("Vary") != "Accept" {
		t.Errorf("browser GET: %d, Content-Type %q, Vary %q, body %.40q", status, h.Get("Content-Type"), h.Get("Vary"), body)
	}
}
