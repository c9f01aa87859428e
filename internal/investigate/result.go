package investigate

import (
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/horus-obs/horus/internal/tenant"
)

// Result is the answer of an investigation.
type Result struct {
	// Request is the request as resolved: the alert's service, signal
	// and window filled in.
	Request Request `json:"request"`
	// Link is the investigation's own page (/investigate?...).
	Link string `json:"link"`
	// Summary is one sentence computed from the findings; it says "no
	// clear culprit" when no finding reaches ClearScore.
	Summary string `json:"summary"`
	// ClearCulprit is whether a finding reaches ClearScore.
	ClearCulprit bool `json:"clearCulprit"`
	// Onset is the onset-and-scope finding (always present; its Details
	// are an *OnsetDetails).
	Onset Finding `json:"onset"`
	// Findings are the culprit findings (bubbleup, where, logs, change,
	// saturation), highest score first.
	Findings []Finding `json:"findings"`
	// Series is the symptom's series over the window, for the graph.
	Series Series `json:"series"`
	// Sampling tells what was read and what was sampled.
	Sampling Sampling `json:"sampling"`
	// Warnings are what could not be looked at (a store that failed, a
	// PromQL error), each a sentence.
	Warnings []string `json:"warnings,omitempty"`
	// TookSeconds is how long the investigation took.
	TookSeconds float64 `json:"tookSeconds"`
}

// ClearScore is the score a finding needs to count as a culprit in the
// summary.
const ClearScore = 0.3

// The kinds of finding.
const (
	KindOnset      = "onset"      // 1: when it started, how bad, where
	KindBubbleUp   = "bubbleup"   // 2: what differs in the bad requests
	KindWhere      = "where"      // 3: the span that fails first / adds the latency
	KindLogs       = "logs"       // 4: log patterns new or risen
	KindChange     = "change"     // 5: change events before the onset
	KindSaturation = "saturation" // 6: USE metrics that departed from baseline
)

// Finding is one thing the investigation found.
type Finding struct {
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
	// Score is from 0 to 1: how strongly it points at the cause. Kinds
	// are weighted (see docs/investigate.md, "Scores") so that an
	// attribute that separates bad from good ranks above the evidence
	// that follows from it.
	Score float64 `json:"score"`
	// Statement is one line, computed from the data.
	Statement string `json:"statement"`
	// Evidence are links and queries a person can open.
	Evidence []Evidence `json:"evidence"`
	// Details are the finding's figures, by kind: *OnsetDetails,
	// *BubbleUpDetails, *WhereDetails, *LogDetails, *ChangeDetails,
	// *SaturationDetails.
	Details any `json:"details,omitempty"`
}

// Evidence is a link (URL, relative to Horus' web UI) and, for a query,
// its language and text.
type Evidence struct {
	// Type is explore, trace, service, change or alert.
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
	// Lang and Query are the query of an explore link: promql, logql
	// or traceql.
	Lang  string `json:"lang,omitempty"`
	Query string `json:"query,omitempty"`
}

// Series is the symptom over the window, in Step buckets: the bad and
// total entry spans of each bucket, and for a PromQL symptom the
// expression's value (the sum of its series) at each bucket's start, NaN
// where it has none (null in JSON).
type Series struct {
	Start time.Time `json:"start"`
	// StepSeconds is the width of a bucket.
	StepSeconds float64   `json:"stepSeconds"`
	Bad         []int     `json:"bad"`
	Total       []int     `json:"total"`
	Values      []float64 `json:"values,omitempty"`
}

// MarshalJSON writes Values' NaN and infinities, which JSON has no
// number for, as null.
func (s Series) MarshalJSON() ([]byte, error) {
	type plain Series
	out := struct {
		plain
		Values []*float64 `json:"values,omitempty"`
	}{plain: plain(s)}
	for i := range s.Values {
		var v *float64
		if !math.IsNaN(s.Values[i]) && !math.IsInf(s.Values[i], 0) {
			v = &s.Values[i]
		}
		out.Values = append(out.Values, v)
	}
	return json.Marshal(out)
}

// Sampling tells what an investigation read.
type Sampling struct {
	// EntrySpans are the symptom service's entry spans in the window
	// (server and consumer spans, or roots), BadSpans those that were bad.
	EntrySpans int `json:"entrySpans"`
	BadSpans   int `json:"badSpans"`
	// Sampled is whether the traces compared are a sample: then they
	// were read from the time slices listed.
	Sampled bool        `json:"sampled"`
	Slices  []TimeRange `json:"slices,omitempty"`
	// BadTraces and GoodTraces are the traces compared; SpansRead the
	// spans read for them.
	BadTraces  int `json:"badTraces"`
	GoodTraces int `json:"goodTraces"`
	SpansRead  int `json:"spansRead"`
	// LogLines are the log lines read for patterns.
	LogLines int `json:"logLines"`
}

// TimeRange is [Start, End).
type TimeRange struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Links: the URL scheme of the web UI (docs/ui.md, "URLs"; the
// evidence links of docs/investigate.md). Times are RFC 3339; a tenant
// other than the default is added as tenant= by withTenant.

// modes are Explore's modes by query language.
var modes = map[string]string{"promql": "metrics", "logql": "logs", "traceql": "traces"}

// rangeValues are the from and to of a link over [start, end].
func rangeValues(start, end time.Time) url.Values {
	v := url.Values{}
	v.Set("from", start.UTC().Format(time.RFC3339))
	v.Set("to", end.UTC().Add(time.Second).Truncate(time.Second).Format(time.RFC3339))
	return v
}

// exploreURL links to Explore with a query over [start, end].
func exploreURL(lang, query string, start, end time.Time) string {
	v := rangeValues(start, end)
	v.Set("mode", modes[lang])
	v.Set("q", query)
	return "/explore?" + v.Encode()
}

func explore(title, lang, query string, start, end time.Time) Evidence {
	return Evidence{Type: "explore", Title: title, URL: exploreURL(lang, query, start, end), Lang: lang, Query: query}
}

func traceEvidence(id string) Evidence {
	return Evidence{Type: "trace", Title: "trace " + id, URL: "/trace/" + id}
}

func serviceEvidence(name string, start, end time.Time) Evidence {
	return Evidence{Type: "service", Title: "service " + name, URL: "/service/" + url.PathEscape(name) + "?" + rangeValues(start, end).Encode()}
}

// changesURL links to the change timeline of a service.
func changesURL(service string, start, end time.Time) string {
	v := rangeValues(start, end)
	v.Set("service", service)
	return "/changes?" + v.Encode()
}

// withTenant adds tenant=org to a link of the UI (a path), for a tenant
// other than the default.
func withTenant(link, org string) string {
	if org == "" || org == tenant.Default || !strings.HasPrefix(link, "/") {
		return link
	}
	sep := "?"
	if strings.Contains(link, "?") {
		sep = "&"
	}
	return link + sep + "tenant=" + url.QueryEscape(org)
}

// quote is s as a string literal of PromQL, LogQL and TraceQL (all take
// Go's double-quoted escapes).
func quote(s string) string { return strconv.Quote(s) }

// traceqlField is how TraceQL names a dim's key: resource. or span.
func traceqlField(resource bool, key string) string {
	if key == "span.name" {
		return "name"
	}
	if resource {
		return "resource." + key
	}
	return "span." + key
}
