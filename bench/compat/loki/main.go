// Command loki is a differential harness: it runs the same LogQL queries,
// metadata requests and logcli commands against a running Grafana Loki and
// a Horus it starts itself, on the same pushed data, and prints every
// difference and a score per category (docs/loki.md, "Side by side with
// Loki").
//
//	go run ./bench/compat/loki -loki-url http://127.0.0.1:3100 [-logcli /path/to/logcli]
//
// or make compat-loki LOKI_URL=... [LOGCLI=...]. The Loki must accept
// structured metadata and lines up to an hour old; bench/compat/loki/loki.yaml
// is a configuration that does. Each run pushes into a tenant of its own
// (X-Scope-OrgID compat-<unix seconds>), so a Loki with auth_enabled: true
// can serve several runs; with auth disabled, start it empty.
//
// Horus is built from ./cmd/horus (or taken from -horus) and started on a
// free loopback port with a temporary data directory and redaction off (a
// redacted line would differ from Loki's by design). The data set is a
// generated shop (dataset.go): -lines lines over -span ending a minute
// before the run, pushed as Loki JSON push bodies, the same bytes to both.
// The corpus (corpus.txt) is written from Loki's LogQL and HTTP API
// documentation; its format is ParseCorpus's.
//
// Every differing case is classed by the explanations file (intended.txt,
// ParseExplanations): intended, with its reason; a known bug of Horus; or
// unexplained. The exit status is 0 when the harness ran and every
// difference is explained; 3 when some are not; 1 when it could not run
// (a server down, a push refused, the data not visible in time).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

type config struct {
	lokiURL, horusBin, logcli, corpus, tenant, only, ignore string
	explanations                                            string
	lines                                                   int
	span                                                    time.Duration
	seed                                                    uint64
	verbose                                                 bool
	maxDiff                                                 int
}

func main() {
	var c config
	flag.StringVar(&c.lokiURL, "loki-url", "", "URL of the running Loki, e.g. http://127.0.0.1:3100 (required)")
	flag.StringVar(&c.horusBin, "horus", "", "Horus binary to start (default: build ./cmd/horus into a temporary directory)")
	flag.StringVar(&c.logcli, "logcli", "", "logcli binary; empty skips the logcli cases")
	flag.StringVar(&c.corpus, "corpus", "bench/compat/loki/corpus.txt", "the corpus of cases")
	flag.StringVar(&c.explanations, "explanations", "bench/compat/loki/intended.txt", "the intended differences and known bugs, by kind or case")
	flag.StringVar(&c.tenant, "tenant", "", "X-Scope-OrgID to push and query as (default compat-<unix seconds>)")
	flag.StringVar(&c.only, "only", "", "run only the cases whose category is this")
	flag.IntVar(&c.lines, "lines", 30000, "lines in the data set")
	flag.DurationVar(&c.span, "span", time.Hour, "time the data set spans")
	flag.Uint64Var(&c.seed, "seed", 21, "seed of the data set")
	flag.StringVar(&c.ignore, "ignore-labels", "", "comma-separated label names to remove (with their _extracted forms) from both answers' label sets before comparing, e.g. level,trace_id: to see the differences a known one hides")
	flag.BoolVar(&c.verbose, "v", false, "also print both answers of a case whose status codes agree but whose error texts differ")
	flag.IntVar(&c.maxDiff, "max-diff", 6, "differences printed per case")
	flag.Parse()
	if c.lokiURL == "" {
		fmt.Fprintln(os.Stderr, "loki: -loki-url is required (a running Loki; see docs/loki.md)")
		os.Exit(2)
	}
	if c.tenant == "" {
		c.tenant = "compat-" + strconv.FormatInt(time.Now().Unix(), 10)
	}
	unexplained, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loki:", err)
		os.Exit(1)
	}
	if unexplained > 0 {
		fmt.Fprintf(os.Stderr, "loki: %d differing cases are unexplained: fix them, or explain them in %s\n", unexplained, c.explanations)
		os.Exit(3)
	}
}

// run runs the cases and returns how many differ unexplained.
func run(c config) (int, error) {
	cases, err := parseFile(c.corpus, ParseCorpus)
	if err != nil {
		return 0, err
	}
	ex, err := parseFile(c.explanations, ParseExplanations)
	if err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "horus-compat-loki-")
	if err != nil {
		return 0, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	bin := c.horusBin
	if bin == "" {
		bin = filepath.Join(tmp, "horus")
		fmt.Println("building ./cmd/horus")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/horus")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("build horus: %w", err)
		}
	}
	horus, stop, err := startHorus(bin, tmp)
	if err != nil {
		return 0, err
	}
	defer stop()
	loki := &server{name: "loki", base: strings.TrimRight(c.lokiURL, "/"), tenant: c.tenant}
	hs := &server{name: "horus", base: horus, tenant: c.tenant}
	if v, err := loki.get(context.Background(), "/loki/api/v1/status/buildinfo", nil, nil); err == nil && v.status == 200 {
		fmt.Printf("loki %s: %s\n", loki.base, strings.TrimSpace(string(v.body)))
	} else {
		return 0, fmt.Errorf("loki at %s does not answer /loki/api/v1/status/buildinfo: %w", loki.base, err)
	}

	end := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	d := NewDataset(c.seed, end, c.span, c.lines)
	bodies := d.PushBodies(2000)
	fmt.Printf("tenant %s: pushing %d lines in %d streams (%s .. %s) to both\n", c.tenant, d.Lines, len(d.Streams),
		d.Start.UTC().Format(time.RFC3339), d.End.UTC().Format(time.RFC3339))
	for _, s := range []*server{loki, hs} {
		for i, b := range bodies {
			if err := s.push(b); err != nil {
				return 0, fmt.Errorf("push batch %d to %s: %w", i, s.name, err)
			}
		}
	}
	// Both answer when both count every line.
	w := window{start: d.Start.Add(-2*time.Minute - 17*time.Second), end: time.Now().Add(-5 * time.Second)}
	if err := waitCount(w, d.Lines, loki, hs); err != nil {
		return 0, err
	}
	fmt.Printf("both hold %d lines; window %s .. %s\n\n", d.Lines, w.start.UTC().Format(time.RFC3339Nano), w.end.UTC().Format(time.RFC3339Nano))

	sc := newScore(ex)
	for _, k := range cases {
		if c.only != "" && k.Category != c.only {
			continue
		}
		var r result
		if k.Category == catLogcli {
			if c.logcli == "" {
				continue
			}
			r = runLogcli(c.logcli, k, w, loki, hs)
		} else {
			r = runHTTP(k, w, loki, hs, 500, splitList(c.ignore))
		}
		sc.add(k, r, c)
	}
	return sc.print(), nil
}

// parseFile parses the file at path with parse.
func parseFile[T any](path string, parse func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer func() { _ = f.Close() }()
	return parse(f)
}

// window is the time range every case asks about.
type window struct{ start, end time.Time }

// server is one side of the comparison.
type server struct {
	name, base, tenant string
	client             http.Client
}

// answer is an HTTP answer.
type answer struct {
	status int
	body   []byte
}

func (s *server) get(ctx context.Context, path string, q url.Values, h map[string]string) (answer, error) {
	u := s.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("X-Scope-OrgID", s.tenant)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return answer{status: resp.StatusCode, body: b}, err
}

func (s *server) push(body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/loki/api/v1/push", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Scope-OrgID", s.tenant)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// waitCount waits up to two minutes until every server counts want lines
// in w.
func waitCount(w window, want int, servers ...*server) error {
	q := url.Values{"query": {`sum(count_over_time({service_name=~".+"}[3h]))`}, "time": {ns(w.end)}}
	deadline := time.Now().Add(2 * time.Minute)
	for _, s := range servers {
		for {
			a, err := s.get(context.Background(), "/loki/api/v1/query", q, nil)
			got := ""
			if err == nil {
				got = string(a.body)
				if r, ok := normalize("/query", a.body, false).(map[string]any); ok {
					if v := vectorValue(r); v == float64(want) {
						break
					}
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s does not count %d lines after two minutes (%s): %w", s.name, want, got, err)
			}
			time.Sleep(time.Second)
		}
	}
	return nil
}

func vectorValue(r map[string]any) float64 {
	data, _ := r["data"].(map[string]any)
	res, _ := data["result"].([]any)
	if len(res) != 1 {
		return -1
	}
	s, _ := res[0].(map[string]any)
	p, _ := s["value"].([]any)
	if len(p) != 2 {
		return -1
	}
	v, _ := p[1].(float64)
	return v
}

func ns(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

// startHorus starts bin serve on a free loopback port with its data in
// dir and redaction off, and waits until it is ready.
func startHorus(bin, dir string) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	cfg := filepath.Join(dir, "horus.yml")
	if err := os.WriteFile(cfg, []byte("logs:\n  redaction:\n    enabled: false\n"), 0o644); err != nil {
		return "", nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "horus.log"))
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--http-addr", addr,
		"--otlp-grpc-addr", "", "--otlp-http-addr", "", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(done) }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = logf.Close()
	}
	base := "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case <-done:
			b, _ := os.ReadFile(logf.Name())
			return "", nil, fmt.Errorf("horus exited: %w\n%s", exitErr, b)
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Printf("horus %s (data in %s)\n", base, dir)
				return base, stop, nil
			}
		}
	}
	stop()
	return "", nil, errors.New("horus did not become ready within 60s")
}

// result is one case's outcome.
type result struct {
	agree   bool
	refused bool     // both answered an error status
	lines   []string // the differences
	hint    string   // a kind id stepHint found, if any
	// unlevelled: the differences left with the label level removed from
	// both answers (ignoreLabels), for a differing log or endpoint case;
	// nil when not computed.
	unlevelled []string
}

// runHTTP asks both servers a case and compares their answers, keeping
// up to maxDiff differences.
func runHTTP(k Case, w window, loki, horus *server, maxDiff int, ignore []string) result {
	path, q := "", url.Values{}
	switch k.Category {
	case catLog:
		path = "/loki/api/v1/query_range"
		q.Set("query", k.Text)
		q.Set("limit", "100")
		q.Set("direction", "backward")
		q.Set("start", ns(w.start))
		q.Set("end", ns(w.end))
	case catMetric, catInvalid:
		path = "/loki/api/v1/query_range"
		q.Set("query", k.Text)
		q.Set("step", "60")
		q.Set("start", ns(w.start))
		q.Set("end", ns(w.end))
	case catInstant:
		path = "/loki/api/v1/query"
		q.Set("query", k.Text)
		q.Set("time", ns(w.end))
	case catEndpoint:
		p, v, err := endpointRequest(k.Text)
		if err != nil {
			return result{lines: []string{"bad case: " + err.Error()}}
		}
		path, q = p, v
		if q.Get("start") == "" && !strings.HasSuffix(path, "/format_query") {
			q.Set("start", ns(w.start))
		}
		if q.Get("end") == "" && !strings.HasSuffix(path, "/format_query") {
			q.Set("end", ns(w.end))
		}
	}
	for key, v := range k.Params {
		q[key] = v
	}
	ctx := context.Background()
	la, lerr := loki.get(ctx, path, q, k.Headers)
	ha, herr := horus.get(ctx, path, q, k.Headers)
	if lerr != nil || herr != nil {
		return result{lines: []string{fmt.Sprintf("request failed: loki %v, horus %v", lerr, herr)}}
	}
	if la.status != ha.status {
		return result{lines: []string{fmt.Sprintf("status: loki %d %s, horus %d %s", la.status, short(string(firstLine(la.body))),
			ha.status, short(string(firstLine(ha.body))))}}
	}
	if la.status != http.StatusOK {
		// Both refuse: the status is what a client acts on; the texts are
		// each server's own words.
		r := result{agree: true, refused: true}
		if strings.TrimSpace(string(la.body)) != strings.TrimSpace(string(ha.body)) {
			r.lines = []string{"loki:  " + string(firstLine(la.body)), "horus: " + string(firstLine(ha.body))}
		}
		return r
	}
	if k.Category == catInvalid {
		return result{agree: true}
	}
	sorted := strings.Contains(k.Text, "sort(") || strings.Contains(k.Text, "sort_desc(")
	a, b := normalize(path, la.body, sorted), normalize(path, ha.body, sorted)
	forward := q.Get("direction") == "forward"
	ignoreLabels(a, ignore, forward)
	ignoreLabels(b, ignore, forward)
	var lines []string
	diff("", a, b, &lines, maxDiff)
	r := result{agree: len(lines) == 0, lines: lines, hint: stepHint(a, b)}
	if !r.agree && k.Category != catMetric && k.Category != catInstant {
		// Is Horus' level label all that differs? (Streams it splits
		// by level merge again; a metric query's series would have to
		// be summed, so those are classed by their kinds alone.)
		a, b := normalize(path, la.body, sorted), normalize(path, ha.body, sorted)
		ignoreLabels(a, []string{"level"}, forward)
		ignoreLabels(b, []string{"level"}, forward)
		r.unlevelled = []string{}
		diff("", a, b, &r.unlevelled, maxDiff)
	}
	return r
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func firstLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return b
}

// score counts agreement per category and classes the differences.
type score struct {
	ex                       *Explanations
	agree, total, refused    map[string]int
	intended, bug, unexplain map[string]int
	kinds                    map[string]int // differing cases per kind id
}

func newScore(ex *Explanations) *score {
	return &score{ex: ex, agree: map[string]int{}, total: map[string]int{}, refused: map[string]int{},
		intended: map[string]int{}, bug: map[string]int{}, unexplain: map[string]int{}, kinds: map[string]int{}}
}

// kindsOf returns the kind ids a differing case shows, and whether they
// account for all its differences as far as the harness can tell. A log
// or endpoint case that agrees once the label level is removed from both
// answers shows Horus' level label alone; one that does not is accounted
// for only if what remains shows kinds of its own. A metric case (whose
// series would have to be summed) is classed by its kinds.
func kindsOf(r result) ([]string, bool) {
	ids := classify(r.lines)
	if r.hint != "" {
		ids = append(ids, r.hint)
	}
	if r.unlevelled == nil {
		return ids, true
	}
	if len(r.unlevelled) == 0 {
		return []string{"level-label"}, true
	}
	rest := classify(r.unlevelled)
	for _, id := range rest {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, len(rest) > 0
}

func (s *score) add(k Case, r result, c config) {
	s.total[k.Category]++
	if r.refused {
		s.refused[k.Category]++
	}
	if r.agree {
		s.agree[k.Category]++
		if c.verbose && len(r.lines) > 0 {
			fmt.Printf("same status, other text [%s] %s (line %d)\n  %s\n\n", k.Category, k.Text, k.Line, strings.Join(r.lines, "\n  "))
		}
		return
	}
	ids, whole := kindsOf(r)
	for _, id := range ids {
		s.kinds[id]++
	}
	class, reasons := s.ex.Explain(k, ids)
	if _, byCase := s.ex.Cases[caseKey(k.Category, k.Text)]; !whole && !byCase {
		class, reasons = "", nil
	}
	label := "UNEXPLAINED"
	switch class {
	case classIntended:
		s.intended[k.Category]++
		label = "INTENDED"
	case classBug:
		s.bug[k.Category]++
		label = "KNOWN BUG"
	default:
		s.unexplain[k.Category]++
	}
	if class != "" && !c.verbose {
		fmt.Printf("%s [%s] %s (corpus line %d): %s\n", label, k.Category, k.Text, k.Line, strings.Join(reasons, "; "))
		return
	}
	hint := ""
	if len(ids) > 0 {
		names := make([]string, len(ids))
		for i, id := range ids {
			names[i] = kindName(id)
		}
		hint = "\n  kind: " + strings.Join(names, "; ")
	}
	if len(reasons) > 0 {
		hint += "\n  why: " + strings.Join(reasons, "; ")
	}
	hdr := ""
	if len(k.Headers) > 0 || len(k.Params) > 0 {
		hdr = fmt.Sprintf(" %v%v", k.Params, k.Headers)
	}
	lines := r.lines
	if len(lines) > c.maxDiff {
		lines = append(lines[:c.maxDiff:c.maxDiff], fmt.Sprintf("... (%d differences)", len(r.lines)))
	}
	if len(r.unlevelled) > 0 {
		ul := r.unlevelled
		if len(ul) > c.maxDiff {
			ul = ul[:c.maxDiff]
		}
		lines = append(lines, "without the label level:")
		lines = append(lines, ul...)
	}
	fmt.Printf("%s [%s] %s: %s%s (corpus line %d)%s\n  %s\n\n", label, k.Category, k.Group, k.Text, hdr, k.Line, hint, strings.Join(lines, "\n  "))
}

// print prints the score and returns the count of unexplained cases.
func (s *score) print() int {
	fmt.Println("\nscore: agreeing + intended + known bugs + unexplained = total")
	var a, in, b, u, t int
	for _, c := range categories {
		if s.total[c] == 0 {
			continue
		}
		fmt.Printf("  %-9s %3d + %3d + %3d + %3d = %3d   (both refused %d)\n", c, s.agree[c], s.intended[c], s.bug[c], s.unexplain[c], s.total[c], s.refused[c])
		a, in, b, u, t = a+s.agree[c], in+s.intended[c], b+s.bug[c], u+s.unexplain[c], t+s.total[c]
	}
	fmt.Printf("  %-9s %3d + %3d + %3d + %3d = %3d\n", "all", a, in, b, u, t)
	ids := make([]string, 0, len(s.kinds))
	for id := range s.kinds {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Printf("  %3d differing cases show %s: %s\n", s.kinds[id], id, kindName(id))
	}
	return u
}
