package investigate

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/horus-obs/horus/internal/changes"
)

// ChangeLookback is how far before the onset change events are looked
// for.
const ChangeLookback = time.Hour

// changeHalfLife is the distance from the onset at which a change's
// closeness is one half: 1 / (1 + Δ/changeHalfLife).
const changeHalfLife = 10 * time.Minute

// ChangeDetails are a change finding's figures.
type ChangeDetails struct {
	Change changes.Change `json:"change"`
	// SecondsBeforeOnset is how long before the onset (or the first bad
	// span, without an onset) the change was made; negative after it.
	SecondsBeforeOnset float64 `json:"secondsBeforeOnset"`
	// Closeness is 1 / (1 + Δ / 10 min) before the onset (0.8 within a
	// bucket after it, as the onset is known to a bucket); Overlap how
	// much the change's target has to do with the bad requests, 0 to 1;
	// the score is their product.
	Closeness float64 `json:"closeness"`
	Overlap   float64 `json:"overlap"`
	// Why says what the overlap is.
	Why string `json:"why"`
}

// anchor is the time changes are measured against: the onset, else the
// first bucket with a bad span, else the window's start.
func (r *run) anchor() time.Time {
	if r.onsetOK {
		return r.onset
	}
	for i, b := range r.res.Series.Bad {
		if b > 0 {
			return r.entries.bucketStart(i)
		}
	}
	return r.req.Start
}

// changeFindings ranks the change events of the implicated services and
// of the services on the bad traces (their dependencies) from
// ChangeLookback before the onset to the end of the window, by closeness
// to the onset times overlap with the bad set.
func (r *run) changeFindings(ctx context.Context) []Finding {
	if r.e.o.Changes == nil {
		r.warn("change events are not available here")
		return nil
	}
	at := r.anchor()
	list, err := r.e.o.Changes.List(ctx, changes.Query{Tenant: r.req.Tenant, Start: at.Add(-ChangeLookback), End: r.req.End, Limit: 1000})
	if err != nil {
		r.warn("change events: %v", err)
		return nil
	}
	services, _ := r.implicated()
	// The share of bad traces through each service: the dependencies.
	through := r.servicesOnBad()
	step := time.Duration(r.entries.step)
	var out []Finding
	for _, c := range list {
		overlap, why := r.changeOverlap(c, services, through)
		if overlap == 0 {
			continue
		}
		delta := at.Sub(c.Time)
		var closeness float64
		switch {
		case delta >= 0:
			closeness = 1 / (1 + float64(delta)/float64(changeHalfLife))
		case -delta <= step:
			closeness = 0.8
		default:
			closeness = 0.1 / (1 + float64(-delta)/float64(changeHalfLife))
		}
		det := &ChangeDetails{Change: c, SecondsBeforeOnset: delta.Seconds(), Closeness: closeness, Overlap: overlap, Why: why}
		target := c.Service
		if c.Instance != "" {
			target = c.Instance
		}
		st := fmt.Sprintf("%s change on %s", c.Kind, target)
		if c.Version != "" {
			st += " (version " + c.Version
			if c.PreviousVersion != "" {
				st += " from " + c.PreviousVersion
			}
			st += ")"
		}
		st += " at " + fmtTime(c.Time) + ", " + relative(delta, r.onsetOK)
		if c.Description != "" {
			st += ": " + quote(oneLine(c.Description, 100))
		}
		st += "; " + why
		f := Finding{Kind: KindChange, Score: clamp01(closeness * overlap), Statement: st, Details: det}
		sel := fmt.Sprintf("horus_change_event{service=%s}", quote(c.Service))
		f.Evidence = append(f.Evidence, Evidence{Type: "change", Title: "the changes of " + c.Service,
			URL: changesURL(c.Service, at.Add(-ChangeLookback), r.req.End)},
			explore("the changes as a series", "promql", sel, at.Add(-ChangeLookback), r.req.End),
			serviceEvidence(c.Service, at.Add(-ChangeLookback), r.req.End))
		for _, l := range c.Links {
			f.Evidence = append(f.Evidence, Evidence{Type: "link", Title: l.Title, URL: l.URL})
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	if len(out) > 3 {
		out = out[:3]
	}
	return out
}

// changeOverlap is how much a change's target has to do with the bad
// requests: its instance or version is a top BubbleUp pair (the pair's
// score), its service is implicated (0.6) or on the bad traces (0.3 ×
// their share); 0 otherwise.
func (r *run) changeOverlap(c changes.Change, services []string, through map[string]int) (float64, string) {
	for _, d := range r.bubble {
		if d.Score < ClearScore/2 {
			break
		}
		for _, x := range append([]Dim{d.Dim}, d.Aliases...) {
			if x.Op != "=" {
				continue
			}
			if c.Instance != "" && slices.Contains(instanceKeys, x.Key) && x.Value == c.Instance {
				return d.Score, fmt.Sprintf("%s is on %s", c.Instance, r.shareOfBad(d))
			}
			if c.Version != "" && x.Key == "service.version" && x.Value == c.Version && x.Service == c.Service {
				return d.Score, fmt.Sprintf("%s %s is on %s", c.Service, c.Version, r.shareOfBad(d))
			}
		}
	}
	if slices.Contains(services, c.Service) {
		if c.Service == r.req.Service {
			return 0.6, c.Service + " is the service of the symptom"
		}
		return 0.6, c.Service + " is implicated by the findings"
	}
	if n := through[c.Service]; n > 0 {
		share := Proportion(n, len(r.traces.bad))
		return 0.3 * share, fmt.Sprintf("%s is called on %s of %s", c.Service, fmtPercent(share), r.badNoun())
	}
	return 0, ""
}

// relative says how long before the onset something was.
func relative(d time.Duration, onset bool) string {
	ref := "the onset"
	if !onset {
		ref = "the first bad request"
	}
	if d < 0 {
		return fmtAgo(-d) + " after " + ref
	}
	return fmtAgo(d) + " before " + ref
}

func fmtAgo(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		m := int(d.Minutes())
		if s := int(d.Seconds()) % 60; s != 0 && m < 10 {
			return fmt.Sprintf("%dm%ds", m, s)
		}
		return fmt.Sprintf("%dm", m)
	}
	return d.Round(time.Minute).String()
}

// oneLine is s on one line, cut at n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
