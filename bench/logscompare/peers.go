package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// A logPeer is a log store the harness compares: how to send it JSON lines,
// flush it, and ask it the four questions in its own language.
type logPeer interface {
	srv() *server
	// push sends one batch of JSON lines.
	push(ctx context.Context, batch []byte) error
	// flush writes what the peer holds in memory to disk.
	flush(ctx context.Context) error
	// ask answers question q about the file described by t.
	ask(ctx context.Context, q questionKind, t truth) (answer, error)
}

// questionKind names one of the four questions.
type questionKind int

const (
	qTrace  questionKind = iota // all lines of one trace
	qOrder                      // a rare order id, as a substring
	qLevels                     // count by level per minute
	qErrors                     // newest 100 errors of one service
)

// answer is what a peer answered: the lines it returned (log queries) or
// the total count per level (the metric query).
type answer struct {
	Lines  int
	Levels map[string]int64
}

// queryRange is the time range every question covers: the file's first
// minute to one minute after its last line.
func queryRange(t truth) (time.Time, time.Time) {
	return t.First.Truncate(time.Minute), t.Last.Truncate(time.Minute).Add(2 * time.Minute)
}

// --- Horus ---

// horusPeer is Horus: JSON lines in at /api/v1/logs/jsonl (docs/loki.md),
// LogQL through its Loki API, POST /flush (docs/configuration.md).
type horusPeer struct{ s *server }

func (h *horusPeer) srv() *server { return h.s }

func (h *horusPeer) push(ctx context.Context, batch []byte) error {
	return post(ctx, h.s.base+"/api/v1/logs/jsonl", "application/x-ndjson", bytes.NewReader(batch))
}

func (h *horusPeer) flush(ctx context.Context) error {
	return post(ctx, h.s.base+"/flush", "", nil)
}

func (h *horusPeer) ask(ctx context.Context, q questionKind, t truth) (answer, error) {
	return lokiAsk(ctx, h.s.base, q, t)
}

// lokiQuery is a question in LogQL, as Horus and Loki take it, and its
// limit: 5000 is the most Horus allows (Loki's max_entries_limit_per_query
// default), above every answer's lines.
func lokiQuery(q questionKind, t truth) (string, int) {
	switch q {
	case qTrace:
		return `{service_name=~".+"} | trace_id="` + t.TraceID + `"`, 5000
	case qOrder:
		return `{service_name=~".+"} |= "` + t.OrderID + `"`, 5000
	case qLevels:
		return `sum by (level) (count_over_time({service_name=~".+"}[1m]))`, 0
	default:
		return `{service_name="` + t.ErrSvc + `", level="error"}`, 100
	}
}

// lokiAsk asks through the Loki HTTP API's query_range
// (pkg/loghttp/params.go: start and end in ns, limit, direction, step).
func lokiAsk(ctx context.Context, base string, q questionKind, t truth, header ...string) (answer, error) {
	query, limit := lokiQuery(q, t)
	from, to := queryRange(t)
	v := url.Values{"query": {query}, "start": {strconv.FormatInt(from.UnixNano(), 10)},
		"end": {strconv.FormatInt(to.UnixNano(), 10)}, "direction": {"backward"}}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	} else {
		v.Set("step", "60")
	}
	body, err := getBody(ctx, base+"/loki/api/v1/query_range?"+v.Encode(), header...)
	if err != nil {
		return answer{}, err
	}
	var r struct {
		Data struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Values []json.RawMessage `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return answer{}, fmt.Errorf("query_range answer: %w", err)
	}
	if r.Data.ResultType == "matrix" {
		return matrixAnswer(body)
	}
	var a answer
	for _, s := range r.Data.Result {
		a.Lines += len(s.Values)
	}
	return a, nil
}

// matrixAnswer sums a Prometheus-style matrix ({"data":{"result":[{"metric":
// {...},"values":[[t,"v"],...]}]}}) by its level label.
func matrixAnswer(body []byte) (answer, error) {
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return answer{}, fmt.Errorf("matrix answer: %w", err)
	}
	a := answer{Levels: map[string]int64{}}
	for _, s := range r.Data.Result {
		for _, p := range s.Values {
			str, _ := p[1].(string)
			n, err := strconv.ParseFloat(str, 64)
			if err != nil {
				return answer{}, fmt.Errorf("matrix value %v: %w", p[1], err)
			}
			a.Levels[s.Metric["level"]] += int64(n)
		}
	}
	return a, nil
}

// getBody GETs u with the headers given as name, value pairs and returns
// the body of a 200.
func getBody(ctx context.Context, u string, header ...string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		if len(b) > 300 {
			b = b[:300]
		}
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	return b, nil
}

// --- VictoriaLogs ---

// vlPeer is VictoriaLogs: /insert/jsonline with the stream fields service
// and level (Horus' stream labels for these lines: service_name and
// level), LogsQL at /select/logsql/query and stats_query_range,
// /internal/force_flush (app/vlinsert, app/vlselect/logsql/logsql.go,
// app/vlstorage/main.go of VictoriaLogs v1.52.1).
type vlPeer struct{ s *server }

func (p *vlPeer) srv() *server { return p.s }

func (p *vlPeer) push(ctx context.Context, batch []byte) error {
	return post(ctx, p.s.base+"/insert/jsonline?_stream_fields=service,level&_msg_field=msg&_time_field=time",
		"application/stream+json", bytes.NewReader(batch))
}

func (p *vlPeer) flush(ctx context.Context) error {
	_, err := getBody(ctx, p.s.base+"/internal/force_flush")
	return err
}

// vlQuery is a question in LogsQL and its limit (0: none). With a limit,
// /select/logsql/query returns the newest lines (ProcessQueryRequest adds
// `sort by (_time) desc` when the query can return the last N).
func vlQuery(q questionKind, t truth) (string, int) {
	switch q {
	case qTrace:
		return `trace_id:="` + t.TraceID + `"`, 0
	case qOrder:
		return `_msg:*"` + t.OrderID + `"*`, 0
	case qLevels:
		return `* | stats by (level) count() n`, 0
	default:
		return `{service="` + t.ErrSvc + `",level="error"}`, 100
	}
}

func (p *vlPeer) ask(ctx context.Context, q questionKind, t truth) (answer, error) {
	query, limit := vlQuery(q, t)
	from, to := queryRange(t)
	v := url.Values{"query": {query}, "start": {from.Format(time.RFC3339Nano)}, "end": {to.Format(time.RFC3339Nano)}}
	if q == qLevels {
		v.Set("step", "1m")
		body, err := getBody(ctx, p.s.base+"/select/logsql/stats_query_range?"+v.Encode())
		if err != nil {
			return answer{}, err
		}
		return matrixAnswer(body)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	body, err := getBody(ctx, p.s.base+"/select/logsql/query?"+v.Encode())
	if err != nil {
		return answer{}, err
	}
	var a answer
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			a.Lines++
		}
	}
	return a, sc.Err()
}

// --- Loki ---

// lokiPeer is Grafana Loki 3.x (a binary of the user's, started with
// bench/compat/loki/loki.yaml): each line pushed as it is, in a stream
// {service_name, level} as Horus makes of it, with trace_id and span_id as
// structured metadata as Alloy's stage.structured_metadata would send them,
// so that the same LogQL asks the same questions (pkg/loghttp/push: the
// JSON push format; POST /flush of the ingester).
type lokiPeer struct{ s *server }

// lokiTenant is the tenant the harness pushes to (the config sets
// auth_enabled).
const lokiTenant = "bench"

func (p *lokiPeer) srv() *server { return p.s }

func (p *lokiPeer) push(ctx context.Context, batch []byte) error {
	body, err := lokiPushBody(batch)
	if err != nil {
		return err
	}
	return post(ctx, p.s.base+"/loki/api/v1/push", "application/json", bytes.NewReader(body), "X-Scope-OrgID", lokiTenant)
}

func (p *lokiPeer) flush(ctx context.Context) error {
	return post(ctx, p.s.base+"/flush", "", nil, "X-Scope-OrgID", lokiTenant)
}

func (p *lokiPeer) ask(ctx context.Context, q questionKind, t truth) (answer, error) {
	return lokiAsk(ctx, p.s.base, q, t, "X-Scope-OrgID", lokiTenant)
}

// shopFields are the fields of a generated line (appendLine) the harness
// reads back.
type shopFields struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Service string    `json:"service"`
	TraceID string    `json:"trace_id"`
	SpanID  string    `json:"span_id"`
	Msg     string    `json:"msg"`
}

// lokiPushBody turns a batch of the generator's JSON lines into a Loki JSON
// push: {"streams":[{"stream":{...},"values":[["<ns>","<line>",{metadata}]]}]}.
func lokiPushBody(batch []byte) ([]byte, error) {
	type entry = [3]any
	streams := map[[2]string][]entry{}
	var keys [][2]string
	for _, line := range bytes.Split(bytes.TrimSpace(batch), []byte("\n")) {
		var l shopFields
		if err := json.Unmarshal(line, &l); err != nil {
			return nil, fmt.Errorf("input line %q: %w", line, err)
		}
		k := [2]string{l.Service, l.Level}
		if _, ok := streams[k]; !ok {
			keys = append(keys, k)
		}
		streams[k] = append(streams[k], entry{strconv.FormatInt(l.Time.UnixNano(), 10), string(line),
			map[string]string{"trace_id": l.TraceID, "span_id": l.SpanID}})
	}
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values []entry           `json:"values"`
	}
	var push struct {
		Streams []stream `json:"streams"`
	}
	for _, k := range keys {
		push.Streams = append(push.Streams, stream{map[string]string{"service_name": k[0], "level": k[1]}, streams[k]})
	}
	return json.Marshal(push)
}
