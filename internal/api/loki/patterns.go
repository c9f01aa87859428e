package loki

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/horus-obs/horus/internal/query/logql"
)

// patterns serves /loki/api/v1/patterns: the templates of the newest
// lines of a selector (up to the API's line limit), each with its count
// per step, as Grafana's Logs Drilldown shows them. A line's template is
// its words with the variable ones (any with a digit) as <_>; templates
// of as many words that agree on most of them are merged, their other
// words becoming <_> (Drain's idea, on one level).
func (a *API) patterns(ctx context.Context, t string, w http.ResponseWriter, r *http.Request) error {
	q, err := logql.Parse(r.FormValue("query"))
	if err != nil {
		return err
	}
	le, ok := q.(*logql.LogExpr)
	if !ok {
		return badf("patterns need a log query, not a metric query")
	}
	start, end, err := a.bounds(r)
	if err != nil {
		return err
	}
	step, err := rangeStep(r, start, end)
	if err != nil {
		return err
	}
	res, err := a.engine.Exec(ctx, le, logql.Params{Tenant: t, Start: start, End: end, Limit: a.opts.MaxLimit})
	if err != nil {
		return err
	}
	var m miner
	for _, s := range res.Streams {
		for _, e := range s.Entries {
			m.add(e.Line, e.T)
		}
	}
	type pattern struct {
		Pattern string  `json:"pattern"`
		Samples [][]any `json:"samples"`
	}
	out := []pattern{}
	for _, c := range m.clusters() {
		counts := map[int64]int{}
		for _, ts := range c.times {
			counts[ts/int64(step)*int64(step)]++
		}
		var buckets []int64
		for b := range counts {
			buckets = append(buckets, b)
		}
		sort.Slice(buckets, func(i, j int) bool { return buckets[i] < buckets[j] })
		p := pattern{Pattern: strings.Join(c.words, " ")}
		for _, b := range buckets {
			p.Samples = append(p.Samples, []any{b / int64(time.Second), counts[b]})
		}
		out = append(out, p)
	}
	writeJSON(w, map[string]any{"status": "success", "data": out})
	return nil
}

const (
	variable     = "<_>"
	maxWords     = 64  // a line's words past this are one <_>
	maxClusters  = 300 // kept, by line count
	minAgreement = 0.6 // of words two templates must share to merge
)

type cluster struct {
	words []string
	times []int64
}

// miner groups lines by template.
type miner struct {
	byLen map[int][]*cluster
}

func (m *miner) add(line string, t int64) {
	words := template(line)
	if m.byLen == nil {
		m.byLen = map[int][]*cluster{}
	}
	list := m.byLen[len(words)]
	var best *cluster
	bestScore := 0.0
	for _, c := range list {
		same := 0
		for i, w := range words {
			if c.words[i] == w || c.words[i] == variable {
				same++
			}
		}
		if s := float64(same) / float64(len(words)); s > bestScore {
			best, bestScore = c, s
		}
	}
	if best == nil || bestScore < minAgreement {
		m.byLen[len(words)] = append(list, &cluster{words: words, times: []int64{t}})
		return
	}
	for i, w := range words {
		if best.words[i] != w {
			best.words[i] = variable
		}
	}
	best.times = append(best.times, t)
}

// clusters returns the templates, most lines first, at most maxClusters.
func (m *miner) clusters() []*cluster {
	var out []*cluster
	for _, list := range m.byLen {
		out = append(out, list...)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].times) != len(out[j].times) {
			return len(out[i].times) > len(out[j].times)
		}
		return strings.Join(out[i].words, " ") < strings.Join(out[j].words, " ")
	})
	if len(out) > maxClusters {
		out = out[:maxClusters]
	}
	return out
}

// template splits a line into words, the variable ones (with a digit)
// as <_>.
func template(line string) []string {
	words := strings.Fields(line)
	if len(words) == 0 {
		return []string{""}
	}
	if len(words) > maxWords {
		words = append(words[:maxWords:maxWords], variable)
	}
	out := make([]string, len(words))
	for i, w := range words {
		if strings.ContainsAny(w, "0123456789") {
			out[i] = variable
		} else {
			out[i] = w
		}
	}
	return out
}
