package querycli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"
)

const queryUsage = `usage: horus query [promql|logql|traceql] [flags] EXPR

Runs EXPR against a running Horus and prints the result as a table (-o
table, the default), the API's own JSON (-o json) or CSV (-o csv). The
language is detected from EXPR when not given: a spanset only TraceQL
writes ({ .x = 1 }, { span.x }, { resource.x }, { duration > 1s }, { })
is TraceQL; a stream selector with a pipeline ({app="x"} |= "error") or a
metric query over stream selectors (rate({app="x"}[5m])) is LogQL;
everything else is PromQL, the bare {job="x"} too (name the language to
force another).

A metric query (PromQL, a LogQL metric query, a TraceQL metrics query) is
instant, at --time or now, unless --since, --from, --to or --step is
given: then it is a range query (about 60 steps without --step). A log
query or a trace search reads --since (default 1h) back from --to, or
--from to --to. Times: now, now-2h, RFC 3339, Unix seconds.

--service NAME selects one service in any language: job="NAME" on metrics
(service= on span metrics traces_spanmetrics_*, server= on the service
graph traces_service_graph_*), service_name="NAME" on log streams,
resource.service.name = "NAME" on spansets. docs/query-cli.md.

Exit status: 0 success, 1 the query failed (the API's message is
printed), 2 usage.

examples:
  horus query 'sum by (job) (rate(http_requests_total[5m]))'
  horus query --since 6h --step 5m 'up'
  horus query --service orders '{level="error"} |= "timeout"'
  horus query logql --tail '{service_name="orders"}'
  horus query '{ span.http.status_code >= 500 }' --since 30m --limit 5
  horus query -o csv '{ } | rate() by (resource.service.name)' --since 1h

flags:
`

// traceQLInstantWindow is the spans an instant TraceQL metrics query
// counts: [time - window, time), as TraceQL rules count them by default
// (rules.traceql_range).
const traceQLInstantWindow = 5 * time.Minute

// queryCmd is `horus query`'s flags.
type queryCmd struct {
	client
	printer
	since          durationFlag
	from, to, at   timeFlag
	step           durationFlag
	limit          int
	service        string
	tail           bool
	verbose        bool
	now            time.Time
	start, end, ts time.Time
	rangeQuery     bool
}

// newFlagSet makes a flag set that prints nothing: exitFor prints what
// is needed.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseArgs parses flags wherever they are among the arguments (before
// or after the expression); after "--" every argument is positional. A
// flag that does not parse is a usage error.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usageError is a usage error: printed with a hint, exit 2.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitFor prints err for the command name and returns its exit status:
// -h prints the usage and the flags of fs to stdout.
func exitFor(name string, err error, stdout, stderr io.Writer, fs *flag.FlagSet, usage string) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return ExitOK
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintf(stderr, "see '%s -h'\n", name)
		return ExitUsage
	}
	return ExitError
}

// outputFlag registers -o and --output.
func outputFlag(fs *flag.FlagSet, p *printer, what string) {
	p.format = outTable
	fs.StringVar(&p.format, "o", outTable, what)
	fs.StringVar(&p.format, "output", outTable, "the same as -o")
}

func checkOutput(format string) error {
	switch format {
	case outTable, outJSON, outCSV:
		return nil
	}
	return usagef("-o %q: want table, json or csv", format)
}

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &queryCmd{printer: printer{stdout: stdout, stderr: stderr}}
	fs := newFlagSet("query")
	c.register(fs)
	outputFlag(fs, &c.printer, "output: table, json (the API's answer) or csv")
	fs.BoolVar(&c.utc, "utc", false, "print times in UTC (default: local time)")
	fs.Var(&c.since, "since", "read this far back from --to (1h, 30m, 7d); makes a metric query a range query")
	fs.Var(&c.from, "from", "start of the range: now-2h, RFC 3339 or Unix seconds")
	fs.Var(&c.to, "to", "end of the range (default now)")
	fs.Var(&c.at, "time", "time of an instant metric query (default now)")
	fs.Var(&c.step, "step", "step of a range query (default: about 60 steps)")
	fs.IntVar(&c.limit, "limit", 0, "at most this many series, log lines (default 100) or traces (default 20)")
	fs.StringVar(&c.service, "service", "", "only this service: job (metrics), service_name (logs), resource.service.name (traces)")
	fs.BoolVar(&c.tail, "tail", false, "LogQL: follow the query's new lines live until interrupted")
	fs.BoolVar(&c.verbose, "v", false, "print the request sent to stderr")
	pos, err := parseArgs(fs, args)
	if err == nil {
		err = c.run(ctx, pos)
	}
	return exitFor("horus query", err, stdout, stderr, fs, queryUsage)
}

func (c *queryCmd) run(ctx context.Context, pos []string) error {
	if err := checkOutput(c.format); err != nil {
		return err
	}
	var lang Lang
	if len(pos) > 1 {
		if l, ok := parseLang(pos[0]); ok {
			lang, pos = l, pos[1:]
		}
	}
	switch {
	case len(pos) == 0:
		return usagef("what to query? give an expression")
	case len(pos) > 1:
		return usagef("one expression, quoted; got %d arguments", len(pos))
	}
	expr := pos[0]
	if _, ok := parseLang(expr); ok && lang == "" {
		return usagef("%s what? give an expression after the language", expr)
	}
	if lang == "" {
		lang = Detect(expr)
		if c.tail {
			lang = LogQL
		}
	}
	if c.tail && lang != LogQL {
		return usagef("--tail follows logs: a LogQL query")
	}
	if c.limit < 0 {
		return usagef("--limit %d: want a count", c.limit)
	}
	if c.service != "" {
		e, err := WithService(lang, expr, c.service)
		if err != nil {
			return fmt.Errorf("%s: %w", lang, err)
		}
		expr = e
	}
	if err := c.times(); err != nil {
		return err
	}
	switch lang {
	case PromQL:
		return c.promql(ctx, expr)
	case LogQL:
		if c.tail {
			return c.tailLogs(ctx, expr)
		}
		return c.logql(ctx, expr)
	}
	return c.traceql(ctx, expr)
}

// times resolves the time flags.
func (c *queryCmd) times() error {
	c.now = time.Now()
	c.rangeQuery = c.since.set || c.from.set || c.to.set || c.step.set
	if c.at.set && c.rangeQuery {
		return usagef("--time is the time of an instant query; --since, --from, --to and --step make a range query")
	}
	if c.since.set && c.from.set {
		return usagef("--since or --from, not both")
	}
	c.ts, c.end = c.now, c.now
	if c.at.set {
		c.ts, _ = ParseTime(c.at.text, c.now)
	}
	if c.to.set {
		c.end, _ = ParseTime(c.to.text, c.now)
	}
	c.start = c.end.Add(-time.Hour)
	switch {
	case c.from.set:
		c.start, _ = ParseTime(c.from.text, c.now)
	case c.since.set:
		c.start = c.end.Add(-c.since.d)
	}
	if !c.start.Before(c.end) {
		return usagef("the range starts at %s, not before its end %s", c.start.Format(time.RFC3339), c.end.Format(time.RFC3339))
	}
	if !c.step.set {
		c.step.d = defaultStep(c.start, c.end)
	}
	return nil
}

// fetch sends the request, prints it with -v, and with -o json prints the
// answer as it came; done says so.
func (c *queryCmd) fetch(ctx context.Context, path string, params url.Values) (b []byte, done bool, err error) {
	if c.verbose {
		fmt.Fprintf(c.stderr, "GET %s%s?%s\n", c.base(), path, params.Encode())
	}
	b, err = c.get(ctx, path, params, "application/json")
	if err != nil || c.format != outJSON {
		return b, false, err
	}
	_, err = c.stdout.Write(b)
	if err == nil && (len(b) == 0 || b[len(b)-1] != '\n') {
		_, err = io.WriteString(c.stdout, "\n")
	}
	return b, true, err
}

// decodeEnvelope reads a Prometheus or Loki answer and prints its
// warnings.
func (c *queryCmd) decodeEnvelope(b []byte) (*envelope, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("decoding the answer: %w", err)
	}
	for _, w := range env.Warnings {
		fmt.Fprintln(c.stderr, "warning:", w)
	}
	for _, i := range env.Infos {
		fmt.Fprintln(c.stderr, "info:", i)
	}
	return &env, nil
}

func (c *queryCmd) promql(ctx context.Context, expr string) error {
	params := url.Values{"query": {expr}}
	if c.limit > 0 {
		params.Set("limit", strconv.Itoa(c.limit))
	}
	return c.samples(ctx, c.metricTimes("/api/v1/query", params, seconds), params)
}

// metricTimes sets the times of a metric query on params, as format
// writes them: start, end and step for a range query, whose path is
// path with _range, else time.
func (c *queryCmd) metricTimes(path string, params url.Values, format func(time.Time) string) string {
	if !c.rangeQuery {
		params.Set("time", format(c.ts))
		return path
	}
	params.Set("start", format(c.start))
	params.Set("end", format(c.end))
	params.Set("step", stepSeconds(c.step.d))
	return path + "_range"
}

// samples runs a Prometheus-shaped metric query and prints its result.
func (c *queryCmd) samples(ctx context.Context, path string, params url.Values) error {
	b, done, err := c.fetch(ctx, path, params)
	if err != nil || done {
		return err
	}
	env, err := c.decodeEnvelope(b)
	if err != nil {
		return err
	}
	ss, err := decodeSamples(env.Data.ResultType, env.Data.Result)
	if err != nil {
		return err
	}
	return c.printMetrics(ss)
}

// printMetrics prints a metric result, its first --limit series.
func (c *queryCmd) printMetrics(ss []series) error {
	if c.limit > 0 && len(ss) > c.limit {
		fmt.Fprintf(c.stderr, "warning: %d series, the first %d printed (--limit)\n", len(ss), c.limit)
		ss = ss[:c.limit]
	}
	return c.metrics(ss, c.rangeQuery)
}

func unixNanos(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

func (c *queryCmd) logql(ctx context.Context, expr string) error {
	params := url.Values{"query": {expr}}
	if c.limit > 0 {
		params.Set("limit", strconv.Itoa(c.limit))
	}
	if isLogQLMetric(expr) {
		return c.samples(ctx, c.metricTimes("/loki/api/v1/query", params, unixNanos), params)
	}
	if c.at.set {
		return usagef("--time is for metric queries; a log query reads a range (--since, --from, --to)")
	}
	params.Set("start", unixNanos(c.start))
	params.Set("end", unixNanos(c.end))
	params.Set("direction", "backward")
	b, done, err := c.fetch(ctx, "/loki/api/v1/query_range", params)
	if err != nil || done {
		return err
	}
	env, err := c.decodeEnvelope(b)
	if err != nil {
		return err
	}
	if env.Data.ResultType != "streams" {
		ss, err := decodeSamples(env.Data.ResultType, env.Data.Result)
		if err != nil {
			return err
		}
		return c.metrics(ss, true)
	}
	streams, lines, err := decodeStreams(env.Data.Result, true)
	if err != nil {
		return err
	}
	return c.logs(streams, lines)
}

func (c *queryCmd) traceql(ctx context.Context, expr string) error {
	if isTraceQLMetrics(expr) {
		params := url.Values{"q": {expr}}
		path := c.metricTimes("/api/metrics/query", params, unixNanos)
		if !c.rangeQuery {
			// TraceQL counts spans over an interval, not at a time.
			params.Del("time")
			params.Set("start", unixNanos(c.ts.Add(-traceQLInstantWindow)))
			params.Set("end", unixNanos(c.ts))
		}
		b, done, err := c.fetch(ctx, path, params)
		if err != nil || done {
			return err
		}
		ss, err := decodeTraceQLMetrics(b, c.ts)
		if err != nil {
			return err
		}
		return c.printMetrics(ss)
	}
	if c.at.set {
		return usagef("--time is for metric queries; a trace search reads a range (--since, --from, --to)")
	}
	// Tempo's search reads whole seconds.
	params := url.Values{"q": {expr},
		"start": {strconv.FormatInt(c.start.Unix(), 10)},
		"end":   {strconv.FormatInt(c.end.Add(time.Second-1).Unix(), 10)}}
	if c.limit > 0 {
		params.Set("limit", strconv.Itoa(c.limit))
	}
	b, done, err := c.fetch(ctx, "/api/search", params)
	if err != nil || done {
		return err
	}
	hits, err := decodeSearch(b)
	if err != nil {
		return err
	}
	return c.traces(hits)
}

// traces writes the traces of a search: id, start, duration, root
// service and span, and the spans matched.
func (c *queryCmd) traces(hits []traceHit) error {
	if len(hits) == 0 && c.format != outCSV {
		fmt.Fprintln(c.stderr, "no traces")
		return nil
	}
	header := []string{"TRACE ID", "START", "DURATION", "ROOT SERVICE", "ROOT SPAN", "MATCHED"}
	if c.format == outCSV {
		header = []string{"trace_id", "start", "duration_ms", "root_service", "root_span", "matched"}
	}
	rows := make([][]string, 0, len(hits))
	for _, h := range hits {
		ns, _ := strconv.ParseInt(h.StartTimeUnixNano, 10, 64)
		start := time.Unix(0, ns)
		r := []string{h.TraceID, c.tableTime(start), formatDuration(time.Duration(h.DurationMs) * time.Millisecond),
			h.RootServiceName, h.RootTraceName, strconv.FormatUint(uint64(h.matched()), 10)}
		if c.format == outCSV {
			r[1], r[2] = csvTime(start), strconv.FormatUint(uint64(h.DurationMs), 10)
		}
		rows = append(rows, r)
	}
	return c.rows(header, rows)
}
