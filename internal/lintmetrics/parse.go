package lintmetrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"google.golang.org/protobuf/proto"
)

// Format is an exposition format Parse reads.
type Format string

// The formats. Names are read as UTF-8 (escaping=allow-utf-8), so that a
// name Prometheus would have to quote is reported by the rules, not refused
// by the parser.
const (
	// FormatText is the Prometheus text format 0.0.4, read by
	// prometheus/common/expfmt (what promtool reads).
	FormatText Format = "text"
	// FormatOpenMetrics is OpenMetrics 1.0 text, read by Prometheus' own
	// scrape parser (model/textparse): expfmt cannot read it (exemplars,
	// "_total" samples of a counter family, "# EOF").
	FormatOpenMetrics Format = "openmetrics"
	// FormatProtobuf is the delimited protobuf format, read by expfmt.
	FormatProtobuf Format = "protobuf"
)

// MaxBody is the largest exposition read (256 MiB); a larger one is an
// error rather than a process that runs out of memory.
const MaxBody = 256 << 20

var (
	textFormat  = expfmt.Format(string(expfmt.FmtText) + "; escaping=allow-utf-8")
	protoFormat = expfmt.Format(string(expfmt.FmtProtoDelim) + "; escaping=allow-utf-8")
)

// Accept headers sent when scraping: one format, or "auto", protobuf first
// (it carries exact types and native histograms), then text, then
// OpenMetrics.
var acceptHeaders = map[string]string{
	"auto": `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=allow-utf-8;q=0.7,` +
		`text/plain;version=0.0.4;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.4,*/*;q=0.1`,
	string(FormatProtobuf):    `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=allow-utf-8`,
	string(FormatText):        `text/plain;version=0.0.4;escaping=allow-utf-8`,
	string(FormatOpenMetrics): `application/openmetrics-text;version=1.0.0;escaping=allow-utf-8`,
}

// FormatOf is the format of a response's Content-Type; text when it names
// none Parse reads (as Prometheus falls back to).
func FormatOf(contentType string) Format {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return FormatText
	}
	switch mt {
	case "application/openmetrics-text":
		return FormatOpenMetrics
	case "application/vnd.google.protobuf":
		if params["encoding"] == "delimited" {
			return FormatProtobuf
		}
	}
	return FormatText
}

// Sniff is the format of a file: OpenMetrics when its last line is "# EOF"
// (which OpenMetrics requires and the text format has no use for), text
// otherwise. Protobuf is read from scrapes only.
func Sniff(b []byte) Format {
	if bytes.HasSuffix(bytes.TrimRight(b, "\n"), []byte("# EOF")) {
		return FormatOpenMetrics
	}
	return FormatText
}

// Parse reads an exposition of format f into metric families, in the order
// they appear, named and typed as client_golang gathers them (an
// OpenMetrics counter family "x" is "x_total").
func Parse(b []byte, f Format) ([]*dto.MetricFamily, error) {
	switch f {
	case FormatOpenMetrics:
		return parseOpenMetrics(b)
	case FormatProtobuf:
		return decode(expfmt.NewDecoder(bytes.NewReader(b), protoFormat))
	default:
		return decode(expfmt.NewDecoder(bytes.NewReader(b), textFormat))
	}
}

func decode(d expfmt.Decoder) ([]*dto.MetricFamily, error) {
	var out []*dto.MetricFamily
	for {
		mf := &dto.MetricFamily{}
		if err := d.Decode(mf); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		out = append(out, mf)
	}
}

// Fetch scrapes url with client, asking for accept (a key of the Accept
// headers: auto, protobuf, text, openmetrics), and returns the body and the
// format it came in. A status other than 2xx, a body over MaxBody or a
// transport failure is an error.
func Fetch(ctx context.Context, client *http.Client, url, accept string) ([]byte, Format, error) {
	h, ok := acceptHeaders[accept]
	if !ok {
		return nil, "", fmt.Errorf("unknown format %q (auto, protobuf, text, openmetrics)", accept)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", h)
	req.Header.Set("User-Agent", "horus-lint-metrics")
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(snippet)))
	}
	b, err := readAll(resp.Body)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", url, err)
	}
	return b, FormatOf(resp.Header.Get("Content-Type")), nil
}

// readAll reads r up to MaxBody.
func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxBody {
		return nil, fmt.Errorf("exposition larger than %d MiB", MaxBody>>20)
	}
	return b, nil
}

// omFamily gathers the samples of one OpenMetrics metric family.
type omFamily struct {
	mf       *dto.MetricFamily
	typ      string // the OpenMetrics type: counter, gauge, histogram, ...
	children map[string]*dto.Metric
	counter  bool // an unknown family with a _created sample
}

// parseOpenMetrics reads OpenMetrics 1.0 with Prometheus' parser and
// builds families as client_golang would gather them: one dto.Metric per
// label set ("le" and "quantile" taken out of histograms and summaries),
// counters named with "_total", info metrics with "_info", stateset and
// info families as gauges, "_created" samples left out. Values are kept for
// counters and gauges; histograms and summaries keep their bucket and
// and quantiles (what the cardinality check counts), not their counts.
func parseOpenMetrics(b []byte) ([]*dto.MetricFamily, error) {
	p := textparse.NewOpenMetricsParser(b, labels.NewSymbolTable(), textparse.WithOMParserSTSeriesSkipped())
	var (
		order []*omFamily
		byOM  = map[string]*omFamily{} // families of samples without metadata, by name
		cur   *omFamily
		help  *[2]string // a HELP line (name, text) not yet given to its family
	)
	takeHelp := func(f *omFamily) {
		if help != nil && help[0] == f.omName() && f.mf.Help == nil {
			f.mf.Help = proto.String(help[1])
			help = nil
		}
	}
	// family returns the family a sample without metadata belongs to (one of
	// its own name, made once), or with fresh a new one for a TYPE line:
	// client_golang's OpenMetrics has two families named
	// go_memstats_alloc_bytes, a gauge and a counter (samples _total).
	family := func(name string, fresh bool) *omFamily {
		if f, ok := byOM[name]; ok && !fresh {
			return f
		}
		f := &omFamily{mf: &dto.MetricFamily{Name: proto.String(name), Type: dto.MetricType_UNTYPED.Enum()}, typ: "unknown",
			children: map[string]*dto.Metric{}}
		if !fresh {
			byOM[name] = f
		}
		order = append(order, f)
		return f
	}
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch e {
		case textparse.EntryType:
			name, typ := p.Type()
			cur = family(string(name), true)
			cur.typ = string(typ)
			setType(cur)
			takeHelp(cur)
		case textparse.EntryHelp:
			name, text := p.Help()
			if cur != nil && cur.omName() == string(name) && cur.mf.Help == nil && len(cur.children) == 0 {
				cur.mf.Help = proto.String(string(text)) // HELP after TYPE
			} else {
				help = &[2]string{string(name), string(text)} // HELP before TYPE, or before untyped samples
			}
		case textparse.EntrySeries, textparse.EntryHistogram:
			var ls labels.Labels
			p.Labels(&ls)
			name := ls.Get(model.MetricNameLabel)
			f, suffix := cur, ""
			if f != nil {
				suffix, _ = strings.CutPrefix(name, f.omName())
			}
			if f != nil && f.typ == "unknown" && suffix == "_created" {
				// client_golang writes a counter whose name lacks "_total" as
				// an unknown family with a _created sample: it is a counter.
				f.counter = true
				continue
			}
			if f == nil || !strings.HasPrefix(name, f.omName()) || !validSuffix(f.typ, suffix) {
				f = family(name, false) // a sample without metadata: an untyped family of its own
				takeHelp(f)
				suffix = ""
			}
			addSample(f, ls, suffix, p, e)
		}
	}
	out := make([]*dto.MetricFamily, 0, len(order))
	for _, f := range order {
		if f.counter {
			f.mf.Type = dto.MetricType_COUNTER.Enum()
			for _, m := range f.children {
				m.Counter, m.Untyped = &dto.Counter{Value: m.Untyped.Value}, nil
			}
		}
		keys := make([]string, 0, len(f.children))
		for k := range f.children {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			f.mf.Metric = append(f.mf.Metric, f.children[k])
		}
		out = append(out, f.mf)
	}
	return out, nil
}

// omName is the family's OpenMetrics name (setType renames it as
// client_golang would).
func (f *omFamily) omName() string {
	n := f.mf.GetName()
	switch f.typ {
	case "counter":
		return strings.TrimSuffix(n, "_total")
	case "info":
		return strings.TrimSuffix(n, "_info")
	}
	return n
}

// setType names and types the family as client_golang would.
func setType(f *omFamily) {
	name := f.mf.GetName()
	t := dto.MetricType_UNTYPED
	switch f.typ {
	case "counter":
		t, name = dto.MetricType_COUNTER, name+"_total"
	case "gauge", "stateset":
		t = dto.MetricType_GAUGE
	case "info":
		t, name = dto.MetricType_GAUGE, name+"_info"
	case "histogram":
		t = dto.MetricType_HISTOGRAM
	case "gaugehistogram":
		t = dto.MetricType_GAUGE_HISTOGRAM
	case "summary":
		t = dto.MetricType_SUMMARY
	}
	f.mf.Name, f.mf.Type = proto.String(name), t.Enum()
}

// validSuffix reports whether a sample name's suffix after its family's
// name belongs to a family of OpenMetrics type typ.
func validSuffix(typ, s string) bool {
	switch typ {
	case "counter":
		return s == "_total"
	case "info":
		return s == "_info"
	case "histogram":
		return s == "_bucket" || s == "_count" || s == "_sum"
	case "gaugehistogram":
		return s == "_bucket" || s == "_gcount" || s == "_gsum"
	case "summary":
		return s == "" || s == "_count" || s == "_sum"
	}
	return s == ""
}

func addSample(f *omFamily, ls labels.Labels, suffix string, p textparse.Parser, e textparse.Entry) {
	var pairs []*dto.LabelPair
	var key strings.Builder
	ls.Range(func(l labels.Label) {
		switch {
		case l.Name == model.MetricNameLabel:
			return
		case l.Name == "le" && (f.typ == "histogram" || f.typ == "gaugehistogram"):
			return
		case l.Name == "quantile" && f.typ == "summary":
			return
		}
		pairs = append(pairs, &dto.LabelPair{Name: proto.String(l.Name), Value: proto.String(l.Value)})
		fmt.Fprintf(&key, "%q=%q,", l.Name, l.Value)
	})
	k := key.String()
	m, ok := f.children[k]
	if !ok {
		m = &dto.Metric{Label: pairs}
		switch f.mf.GetType() {
		case dto.MetricType_COUNTER:
			m.Counter = &dto.Counter{}
		case dto.MetricType_GAUGE:
			m.Gauge = &dto.Gauge{}
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			m.Histogram = &dto.Histogram{}
		case dto.MetricType_SUMMARY:
			m.Summary = &dto.Summary{}
		default:
			m.Untyped = &dto.Untyped{}
		}
		f.children[k] = m
	}
	if e != textparse.EntrySeries {
		return
	}
	_, _, v := p.Series()
	switch {
	case m.Counter != nil:
		m.Counter.Value = proto.Float64(v)
	case m.Gauge != nil:
		m.Gauge.Value = proto.Float64(v)
	case m.Untyped != nil:
		m.Untyped.Value = proto.Float64(v)
	case m.Histogram != nil && suffix == "_bucket":
		le, err := strconv.ParseFloat(ls.Get("le"), 64)
		if err == nil {
			m.Histogram.Bucket = append(m.Histogram.Bucket, &dto.Bucket{UpperBound: proto.Float64(le)})
		}
	case m.Summary != nil && suffix == "":
		m.Summary.Quantile = append(m.Summary.Quantile, &dto.Quantile{})
	}
}
