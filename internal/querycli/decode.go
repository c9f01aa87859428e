package querycli

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
)

// envelope is the Prometheus (and Loki) API's answer.
type envelope struct {
	Status   string   `json:"status"`
	Warnings []string `json:"warnings"`
	Infos    []string `json:"infos"`
	Data     struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// sampleSeries is a series of a vector or matrix.
type sampleSeries struct {
	Metric     map[string]string   `json:"metric"`
	Value      []json.RawMessage   `json:"value"`
	Values     [][]json.RawMessage `json:"values"`
	Histogram  []json.RawMessage   `json:"histogram"`
	Histograms [][]json.RawMessage `json:"histograms"`
}

// decodeSamples reads a vector, matrix, scalar or string result of the
// Prometheus or Loki API.
func decodeSamples(resultType string, raw json.RawMessage) ([]series, error) {
	switch resultType {
	case "scalar", "string":
		var pair []json.RawMessage
		if err := json.Unmarshal(raw, &pair); err != nil {
			return nil, fmt.Errorf("decoding the %s: %w", resultType, err)
		}
		pt, err := decodePoint(pair)
		if err != nil {
			return nil, err
		}
		return []series{{labels: map[string]string{}, points: []point{pt}}}, nil
	case "vector", "matrix":
	default:
		return nil, fmt.Errorf("unknown result type %q", resultType)
	}
	var in []sampleSeries
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fmt.Errorf("decoding the %s: %w", resultType, err)
	}
	out := make([]series, 0, len(in))
	for _, s := range in {
		pairs := s.Values
		if s.Value != nil {
			pairs = append(pairs, s.Value)
		}
		pairs = append(pairs, s.Histograms...)
		if s.Histogram != nil {
			pairs = append(pairs, s.Histogram)
		}
		sr := series{labels: s.Metric, points: make([]point, 0, len(pairs))}
		if sr.labels == nil {
			sr.labels = map[string]string{}
		}
		for _, pair := range pairs {
			pt, err := decodePoint(pair)
			if err != nil {
				return nil, err
			}
			sr.points = append(sr.points, pt)
		}
		sort.SliceStable(sr.points, func(i, j int) bool { return sr.points[i].t.Before(sr.points[j].t) })
		out = append(out, sr)
	}
	return out, nil
}

// decodePoint reads [unix seconds, "value"], or [unix seconds,
// {histogram}] (its count and sum).
func decodePoint(pair []json.RawMessage) (point, error) {
	if len(pair) != 2 {
		return point{}, fmt.Errorf("a sample of %d fields, want 2", len(pair))
	}
	var ts float64
	if err := json.Unmarshal(pair[0], &ts); err != nil {
		return point{}, fmt.Errorf("a sample's time: %w", err)
	}
	pt := point{t: unixSeconds(ts)}
	var s string
	if err := json.Unmarshal(pair[1], &s); err == nil {
		pt.v = s
		return pt, nil
	}
	var h struct {
		Count string `json:"count"`
		Sum   string `json:"sum"`
	}
	if err := json.Unmarshal(pair[1], &h); err != nil {
		return point{}, fmt.Errorf("a sample's value: %w", err)
	}
	pt.v = "histogram{count=" + h.Count + ", sum=" + h.Sum + "}"
	return pt, nil
}

func unixSeconds(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e3))*1e6)
}

// decodeStreams reads a Loki streams result into its streams' labels and
// its lines, newest first (backward) or oldest first.
func decodeStreams(raw json.RawMessage, backward bool) ([]map[string]string, []logLine, error) {
	var in []struct {
		Stream map[string]string   `json:"stream"`
		Values [][]json.RawMessage `json:"values"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, nil, fmt.Errorf("decoding the streams: %w", err)
	}
	streams := make([]map[string]string, len(in))
	var lines []logLine
	for i, s := range in {
		streams[i] = s.Stream
		for _, v := range s.Values {
			l, err := decodeEntry(v)
			if err != nil {
				return nil, nil, err
			}
			l.stream = i
			lines = append(lines, l)
		}
	}
	sort.SliceStable(lines, func(i, j int) bool {
		if backward {
			return lines[i].t.After(lines[j].t)
		}
		return lines[i].t.Before(lines[j].t)
	})
	return streams, lines, nil
}

// decodeEntry reads ["<unix ns>", "line"(, {metadata})].
func decodeEntry(v []json.RawMessage) (logLine, error) {
	if len(v) < 2 {
		return logLine{}, fmt.Errorf("a log entry of %d fields, want 2", len(v))
	}
	var ns, line string
	if err := json.Unmarshal(v[0], &ns); err != nil {
		return logLine{}, fmt.Errorf("a log entry's time: %w", err)
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return logLine{}, fmt.Errorf("a log entry's time %q: %w", ns, err)
	}
	if err := json.Unmarshal(v[1], &line); err != nil {
		return logLine{}, fmt.Errorf("a log entry's line: %w", err)
	}
	return logLine{t: time.Unix(0, n), line: line}, nil
}

// tempoValue is an OTLP AnyValue as Tempo's JSON writes it.
type tempoValue struct {
	StringValue *string  `json:"stringValue"`
	IntValue    *string  `json:"intValue"`
	DoubleValue *float64 `json:"doubleValue"`
	BoolValue   *bool    `json:"boolValue"`
}

func (v tempoValue) String() string {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.IntValue != nil:
		return *v.IntValue
	case v.DoubleValue != nil:
		return strconv.FormatFloat(*v.DoubleValue, 'f', -1, 64)
	case v.BoolValue != nil:
		return strconv.FormatBool(*v.BoolValue)
	}
	return ""
}

type tempoLabel struct {
	Key   string     `json:"key"`
	Value tempoValue `json:"value"`
}

// decodeTraceQLMetrics reads a TraceQL metrics answer (query_range's
// samples, or query's one value at end).
func decodeTraceQLMetrics(b []byte, at time.Time) ([]series, error) {
	var in struct {
		Series []struct {
			Labels  []tempoLabel `json:"labels"`
			Value   *float64     `json:"value"`
			Samples []struct {
				TimestampMs string  `json:"timestampMs"`
				Value       float64 `json:"value"`
			} `json:"samples"`
		} `json:"series"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("decoding the answer: %w", err)
	}
	out := make([]series, 0, len(in.Series))
	for _, s := range in.Series {
		sr := series{labels: map[string]string{}}
		for _, l := range s.Labels {
			sr.labels[l.Key] = l.Value.String()
		}
		if s.Value != nil {
			sr.points = append(sr.points, point{t: at, v: formatFloat(*s.Value)})
		}
		for _, smp := range s.Samples {
			ms, err := strconv.ParseInt(smp.TimestampMs, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("a sample's timestampMs %q: %w", smp.TimestampMs, err)
			}
			sr.points = append(sr.points, point{t: time.UnixMilli(ms), v: formatFloat(smp.Value)})
		}
		out = append(out, sr)
	}
	return out, nil
}

// formatFloat writes a value as the Prometheus API does.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// traceHit is one trace of a TraceQL search.
type traceHit struct {
	TraceID           string `json:"traceID"`
	RootServiceName   string `json:"rootServiceName"`
	RootTraceName     string `json:"rootTraceName"`
	StartTimeUnixNano string `json:"startTimeUnixNano"`
	DurationMs        uint32 `json:"durationMs"`
	SpanSet           *struct {
		Matched uint32 `json:"matched"`
	} `json:"spanSet"`
	SpanSets []struct {
		Matched uint32 `json:"matched"`
	} `json:"spanSets"`
}

// matched is the count of spans the query matched in the trace.
func (h traceHit) matched() uint32 {
	if len(h.SpanSets) > 0 {
		var n uint32
		for _, s := range h.SpanSets {
			n += s.Matched
		}
		return n
	}
	if h.SpanSet != nil {
		return h.SpanSet.Matched
	}
	return 0
}

// decodeSearch reads a Tempo search answer.
func decodeSearch(b []byte) ([]traceHit, error) {
	var in struct {
		Traces []traceHit `json:"traces"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("decoding the answer: %w", err)
	}
	return in.Traces, nil
}
