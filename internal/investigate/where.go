package investigate

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/horus-obs/horus/internal/store/events"
)

// whereWeight scales the "where" findings' scores: the span that fails
// first or adds the latency tells where, the BubbleUp pair what; both
// strong, the pair first.
const whereWeight = 0.9

// whereKey is a span (service, kind, name) on the bad traces: where they
// fail first, or where their latency is added on the critical path.
type whereKey struct {
	service, name string
	kind          int32
	// bad and good are the traces where it is the cause (see findWhere).
	bad, good int
	// added are, on those bad traces, the latency it adds on the critical
	// path over the good traces' median (latency symptoms).
	added []int64
	// messages counts its status messages; instances its
	// service.instance.id, on the bad traces.
	messages  map[string]int
	instances map[string]int
	examples  []string

	topInstance      string
	topInstanceShare float64
	// peer is the service a client span calls (peer.service or the
	// service serving its address: resolvePeers); peers counts the
	// instances it reached or tried to, on the bad traces.
	peer             string
	peers            map[string]int
	topPeer          string
	topPeerShare     float64
	share, goodShare float64
}

// findWhere analyses the bad traces under their symptom entry span: for
// errors, the error span with no error below it (the first to fail),
// earliest ending first; for latency, each span's time on the critical
// path (the chain of spans the entry span waited on, as Jaeger computes
// it), against the good traces' median for the same span. It keeps the
// spans that are the cause in most bad traces.
func (r *run) findWhere() {
	ts := r.traces
	if len(ts.bad) == 0 {
		return
	}
	keys := map[string]*whereKey{}
	get := func(sp *span) *whereKey {
		peer := ""
		if sp.peer != nil {
			peer = sp.peer.service
		}
		k := fmt.Sprintf("%s\xff%d\xff%s\xff%s", sp.service, sp.kind, sp.name, peer)
		w := keys[k]
		if w == nil {
			w = &whereKey{service: sp.service, name: sp.name, kind: sp.kind, peer: peer, messages: map[string]int{}, instances: map[string]int{},
				peers: map[string]int{}}
			keys[k] = w
		}
		return w
	}
	note := func(w *whereKey, t *trace, sp *span) {
		w.bad++
		if sp.statusMsg != "" {
			w.messages[sp.statusMsg]++
		}
		if v := instanceOf(sp.res); v != "" {
			w.instances[v]++
		}
		if sp.peer != nil && sp.peer.instance != "" {
			w.peers[sp.peer.instance]++
		}
		if len(w.examples) < 3 {
			w.examples = append(w.examples, t.id.String())
		}
	}
	if r.entries.threshold == 0 {
		for _, t := range ts.bad {
			root, kids := subtree(t, true)
			if o := errorOrigin(root, kids); o != nil {
				note(get(o), t, o)
			}
		}
		for _, t := range ts.good {
			root, kids := subtree(t, false)
			seen := map[*whereKey]bool{}
			walk(root, kids, func(sp *span) {
				if sp.status == statusError {
					if w := get(sp); !seen[w] {
						seen[w] = true
						w.good++
					}
				}
			})
		}
	} else {
		r.criticalPaths(get, note)
	}
	nBad, nGood := len(ts.bad), max(len(ts.good), 1)
	for _, w := range keys {
		if w.bad == 0 {
			continue
		}
		w.share, w.goodShare = Proportion(w.bad, nBad), Proportion(w.good, nGood)
		for inst, n := range w.instances {
			if s := Proportion(n, w.bad); s > w.topInstanceShare || s == w.topInstanceShare && inst < w.topInstance {
				w.topInstance, w.topInstanceShare = inst, s
			}
		}
		for inst, n := range w.peers {
			if s := Proportion(n, w.bad); s > w.topPeerShare || s == w.topPeerShare && inst < w.topPeer {
				w.topPeer, w.topPeerShare = inst, s
			}
		}
		r.where = append(r.where, *w)
	}
	sort.Slice(r.where, func(i, j int) bool {
		a, b := r.where[i], r.where[j]
		if a.share-a.goodShare != b.share-b.goodShare {
			return a.share-a.goodShare > b.share-b.goodShare
		}
		return a.service+a.name < b.service+b.name
	})
}

// criticalPaths does findWhere for a latency symptom.
func (r *run) criticalPaths(get func(*span) *whereKey, note func(*whereKey, *trace, *span)) {
	paths := func(list []*trace, bad bool) (contrib []map[*whereKey]int64, spanOf []map[*whereKey]*span, durs []int64) {
		for _, t := range list {
			root, kids := subtree(t, bad)
			c, s := map[*whereKey]int64{}, map[*whereKey]*span{}
			if root != nil {
				criticalPath(root, kids, root.end(), func(sp *span, d int64) {
					w := get(sp)
					c[w] += d
					if s[w] == nil || sp.dur > s[w].dur {
						s[w] = sp
					}
				})
				durs = append(durs, root.dur)
			} else {
				durs = append(durs, 0)
			}
			contrib, spanOf = append(contrib, c), append(spanOf, s)
		}
		return contrib, spanOf, durs
	}
	goodC, _, goodD := paths(r.traces.good, false)
	badC, badS, badD := paths(r.traces.bad, true)
	medianOf := func(xs []int64) int64 {
		if len(xs) == 0 {
			return 0
		}
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[(len(s)-1)/2]
	}
	goodRoot := medianOf(goodD)
	ref := map[*whereKey]int64{}
	for _, c := range badC {
		for w := range c {
			if _, ok := ref[w]; ok {
				continue
			}
			var xs []int64
			for _, g := range goodC {
				xs = append(xs, g[w])
			}
			ref[w] = medianOf(xs)
		}
	}
	for _, g := range goodC {
		for w, d := range g {
			if d > 2*ref[w]+int64(r.entries.threshold/4) {
				w.good++ // a good trace where it also ran long
			}
		}
	}
	for i, c := range badC {
		total := badD[i] - goodRoot
		for w, d := range c {
			excess := d - ref[w]
			if excess > 0 && float64(excess) >= 0.25*float64(total) {
				note(w, r.traces.bad[i], badS[i][w])
				w.added = append(w.added, excess)
			}
		}
	}
}

// subtree returns a trace's symptom entry span (the first bad one of a
// bad trace, the first good one of a good trace) and the children of
// each span.
func subtree(t *trace, bad bool) (*span, map[events.SpanID][]*span) {
	var root *span
	kids := map[events.SpanID][]*span{}
	for _, sp := range t.spans {
		if (bad && sp.isEntryBad || !bad && sp.isEntryGood) && (root == nil || sp.start < root.start) {
			root = sp
		}
		if !sp.parent.IsZero() {
			kids[sp.parent] = append(kids[sp.parent], sp)
		}
	}
	return root, kids
}

// walk calls fn on sp and every span below it.
func walk(sp *span, kids map[events.SpanID][]*span, fn func(*span)) {
	if sp == nil {
		return
	}
	seen := map[*span]bool{}
	var rec func(*span)
	rec = func(s *span) {
		if seen[s] { // a cycle of bad ids
			return
		}
		seen[s] = true
		fn(s)
		for _, c := range kids[s.id] {
			rec(c)
		}
	}
	rec(sp)
}

// errorOrigin is the span in error under root (root included) with no
// span in error below it that ends first: where the failure began.
func errorOrigin(root *span, kids map[events.SpanID][]*span) *span {
	var best *span
	walk(root, kids, func(sp *span) {
		if sp.status != statusError {
			return
		}
		for _, c := range kids[sp.id] {
			if hasError(c, kids) {
				return
			}
		}
		if best == nil || sp.end() < best.end() || sp.end() == best.end() && sp.start > best.start {
			best = sp
		}
	})
	return best
}

func hasError(sp *span, kids map[events.SpanID][]*span) bool {
	found := false
	walk(sp, kids, func(s *span) { found = found || s.status == statusError })
	return found
}

// criticalPath calls add with each span's time on the critical path of
// sp up to until: walking back from the end, the child that ended last
// is waited on, then the one that ended before it started, and so on;
// the gaps are sp's own time (the algorithm of Jaeger UI's critical
// path, jaegertracing/jaeger-ui#1364).
func criticalPath(sp *span, kids map[events.SpanID][]*span, until int64, add func(*span, int64)) {
	criticalPathDepth(sp, kids, until, add, 0)
}

func criticalPathDepth(sp *span, kids map[events.SpanID][]*span, until int64, add func(*span, int64), depth int) {
	cursor := min(sp.end(), until)
	if depth > 100 {
		add(sp, max(cursor-sp.start, 0))
		return
	}
	cs := slices.Clone(kids[sp.id])
	sort.Slice(cs, func(i, j int) bool { return cs[i].end() > cs[j].end() })
	for _, c := range cs {
		if c.start >= cursor || c.end() <= sp.start {
			continue
		}
		cEnd := min(c.end(), cursor)
		if cEnd < cursor {
			add(sp, cursor-cEnd)
		}
		criticalPathDepth(c, kids, cEnd, add, depth+1)
		cursor = max(c.start, sp.start)
	}
	if cursor > sp.start {
		add(sp, cursor-sp.start)
	}
}

// WhereDetails are a "where" finding's figures.
type WhereDetails struct {
	Service string `json:"service"`
	Span    string `json:"span"`
	// Kind is the span kind: server, client, internal, producer,
	// consumer.
	Kind string `json:"kind"`
	// BadShare is the share of bad traces where it is the cause;
	// GoodShare of good traces where it failed (errors) or ran long
	// (latency) too.
	BadShare  float64 `json:"badShare"`
	GoodShare float64 `json:"goodShare"`
	// AddedSeconds is the median latency it adds on the critical path
	// (latency symptoms).
	AddedSeconds float64 `json:"addedSeconds,omitempty"`
	// StatusMessage is its most common status message on the bad traces.
	StatusMessage string `json:"statusMessage,omitempty"`
	// Instance is the service.instance.id of most of them, with its share.
	Instance      string  `json:"instance,omitempty"`
	InstanceShare float64 `json:"instanceShare,omitempty"`
	// Peer is the service a client span calls; PeerInstance the instance
	// of it most of them called (resolved from the address dialled, so
	// named even when the call never reached it), with its share.
	Peer              string   `json:"peer,omitempty"`
	PeerInstance      string   `json:"peerInstance,omitempty"`
	PeerInstanceShare float64  `json:"peerInstanceShare,omitempty"`
	ExampleTraces     []string `json:"exampleTraces"`
}

// instanceKeys are the resource attributes that name an instance, in
// order of preference.
var instanceKeys = []string{"service.instance.id", "k8s.pod.name", "host.name"}

// instanceOf is the instance a resource names.
func instanceOf(res events.Attrs) string {
	for _, k := range instanceKeys {
		if v, ok := res.Get(k); ok && v.String() != "" {
			return v.String()
		}
	}
	return ""
}

var kindNames = map[int32]string{1: "internal", kindServer: "server", kindClient: "client", 4: "producer", kindConsumer: "consumer"}

// maxWhereFindings is how many spans become findings.
const maxWhereFindings = 2

func (r *run) whereFindings() []Finding {
	var out []Finding
	for i, w := range r.where {
		if i >= maxWhereFindings || w.share < 0.2 {
			break
		}
		det := &WhereDetails{Service: w.service, Span: w.name, Kind: kindNames[w.kind], BadShare: w.share, GoodShare: w.goodShare,
			ExampleTraces: w.examples}
		var msg string
		best := 0
		for m, n := range w.messages {
			if n > best || n == best && m < msg {
				msg, best = m, n
			}
		}
		det.StatusMessage = msg
		if w.topInstanceShare >= 0.5 && len(w.instances) > 0 {
			det.Instance, det.InstanceShare = w.topInstance, w.topInstanceShare
		}
		sp := fmt.Sprintf("%s %s span %s", w.service, det.Kind, quote(w.name))
		det.Peer = w.peer
		if w.peer != "" {
			sp = fmt.Sprintf("%s → %s %s span %s", w.service, w.peer, det.Kind, quote(w.name))
			if w.topPeerShare >= 0.5 {
				det.PeerInstance, det.PeerInstanceShare = w.topPeer, w.topPeerShare
			}
		}
		var st string
		if r.entries.threshold == 0 {
			st = fmt.Sprintf("%s fails first in %s of %s", sp, fmtPercent(w.share), r.badNoun())
		} else {
			s := slices.Clone(w.added)
			slices.Sort(s)
			added := time.Duration(s[(len(s)-1)/2])
			det.AddedSeconds = added.Seconds()
			st = fmt.Sprintf("%s: +%s on the critical path of %s of %s", sp, fmtDuration(added), fmtPercent(w.share), r.badNoun())
		}
		switch {
		case det.PeerInstance != "":
			st += fmt.Sprintf(" (%s on %s of them)", det.PeerInstance, fmtPercent(det.PeerInstanceShare))
		case det.Instance != "":
			st += fmt.Sprintf(" (%s on %s of them)", det.Instance, fmtPercent(det.InstanceShare))
		}
		if msg != "" {
			st += ": " + quote(msg)
		}
		f := Finding{Kind: KindWhere, Score: clamp01((w.share - w.goodShare) * whereWeight), Statement: st, Details: det}
		cond := fmt.Sprintf("resource.service.name=%s && name=%s", quote(w.service), quote(w.name))
		if r.entries.threshold == 0 {
			cond += " && status=error"
		}
		f.Evidence = append(f.Evidence, explore("the span in the bad traces", "traceql", r.symptomTraceQL()+" && {"+cond+"}", r.req.Start, r.req.End))
		for _, id := range w.examples {
			f.Evidence = append(f.Evidence, traceEvidence(id))
		}
		f.Evidence = append(f.Evidence, serviceEvidence(w.service, r.req.Start, r.req.End))
		if w.peer != "" {
			f.Evidence = append(f.Evidence, serviceEvidence(w.peer, r.req.Start, r.req.End))
		}
		out = append(out, f)
	}
	return out
}
