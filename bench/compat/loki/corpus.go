package main

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// The categories of cases, each scored on its own.
const (
	catLog      = "log"      // a log query: query_range, limit 100, backward
	catMetric   = "metric"   // a metric query: query_range, step 60 s
	catInstant  = "instant"  // a metric query at the window's end: query
	catInvalid  = "invalid"  // a query both must refuse: query_range
	catEndpoint = "endpoint" // a metadata endpoint: the path and its parameters
	catLogcli   = "logcli"   // a logcli command run against both
)

var categories = []string{catLog, catMetric, catInstant, catInvalid, catEndpoint, catLogcli}

// Case is one comparison of the corpus.
type Case struct {
	Line     int    // line in the corpus file, from 1
	Group    string // the ## title above it
	Category string // one of categories
	// Text is the query (log, metric, instant, invalid), the path with raw
	// parameters (endpoint: /loki/api/v1/series?match[]={a="b"}&limit=5),
	// or logcli's arguments, " :: " and the query (logcli).
	Text    string
	Params  url.Values        // from @params lines, added to the request
	Headers map[string]string // from @header lines
}

// ParseCorpus reads a corpus: lines starting with # are comments, "## "
// starts a group (its title names the cases), "@category <name>" sets the
// category of the lines below it, "@params k=v&k=v" and "@header Name:
// value" add request parameters and headers to the cases below them until
// the next @category or group. Every other non-blank line is a case. An
// unknown directive or category, or a case before any @category, is an
// error naming the line.
func ParseCorpus(r io.Reader) ([]Case, error) {
	var (
		out     []Case
		group   string
		cat     string
		params  url.Values
		headers map[string]string
	)
	reset := func() { params, headers = url.Values{}, map[string]string{} }
	reset()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "## "):
			group = strings.TrimSpace(line[3:])
			reset()
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "@"):
			name, arg, _ := strings.Cut(line[1:], " ")
			arg = strings.TrimSpace(arg)
			switch name {
			case "category":
				if !validCategory(arg) {
					return nil, fmt.Errorf("corpus line %d: unknown category %q (want one of %s)", n, arg, strings.Join(categories, ", "))
				}
				cat = arg
				reset()
			case "params":
				for _, kv := range strings.Split(arg, "&") {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return nil, fmt.Errorf("corpus line %d: @params %q: want k=v&k=v", n, arg)
					}
					params.Set(k, v)
				}
			case "header":
				k, v, ok := strings.Cut(arg, ":")
				if !ok || strings.TrimSpace(k) == "" {
					return nil, fmt.Errorf("corpus line %d: @header %q: want Name: value", n, arg)
				}
				headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
			default:
				return nil, fmt.Errorf("corpus line %d: unknown directive @%s", n, name)
			}
		default:
			if cat == "" {
				return nil, fmt.Errorf("corpus line %d: a case before any @category", n)
			}
			if cat == catEndpoint && !strings.HasPrefix(line, "/") {
				return nil, fmt.Errorf("corpus line %d: an endpoint case starts with its path", n)
			}
			if cat == catLogcli && !strings.Contains(line, " :: ") && strings.Contains(line, "{") {
				return nil, fmt.Errorf("corpus line %d: a logcli case with a query separates it with \" :: \"", n)
			}
			c := Case{Line: n, Group: group, Category: cat, Text: line, Params: url.Values{}, Headers: map[string]string{}}
			for k, v := range params {
				c.Params[k] = append([]string(nil), v...)
			}
			for k, v := range headers {
				c.Headers[k] = v
			}
			out = append(out, c)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read corpus: %w", err)
	}
	return out, nil
}

func validCategory(s string) bool {
	for _, c := range categories {
		if c == s {
			return true
		}
	}
	return false
}

// endpointRequest splits an endpoint case into its path and parameters:
// the parameters are raw (not URL-encoded) k=v pairs joined by &, so a
// value cannot hold a &.
func endpointRequest(text string) (string, url.Values, error) {
	path, raw, _ := strings.Cut(text, "?")
	v := url.Values{}
	if raw == "" {
		return path, v, nil
	}
	for _, kv := range strings.Split(raw, "&") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return "", nil, fmt.Errorf("parameter %q: want k=v", kv)
		}
		v.Add(k, val)
	}
	return path, v, nil
}

// logcliArgs splits a logcli case into its arguments: the words before
// " :: ", then the query after it as one argument.
func logcliArgs(text string) []string {
	head, query, hasQuery := strings.Cut(text, " :: ")
	args := strings.Fields(head)
	if hasQuery {
		args = append(args, strings.TrimSpace(query))
	}
	return args
}
