package logql

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/prometheus/prometheus/model/labels"
)

// groupLabels are the labels a series keeps under a grouping.
func groupLabels(ls labels.Labels, g *Grouping) labels.Labels {
	if g == nil {
		return labels.EmptyLabels()
	}
	b := labels.NewBuilder(ls)
	if g.Without {
		b.Del(g.Labels...)
	} else {
		b.Keep(g.Labels...)
	}
	return b.Labels()
}

func (ev *evaluator) vectorAgg(a *VectorAgg, v value) (value, error) {
	if v.scalar != nil {
		return value{}, fmt.Errorf("%s needs a query to aggregate, not a number", a.Op)
	}
	n := ev.g.n
	switch a.Op {
	case "sort", "sort_desc":
		// Instant queries only: order by the value at the one step.
		sort.SliceStable(v.series, func(i, j int) bool {
			x, y := v.series[i].vals[0], v.series[j].vals[0]
			if a.Op == "sort" {
				return x < y
			}
			return x > y
		})
		v.sorted = ev.p.Instant
		return v, nil
	case "topk", "bottomk", "approx_topk":
		// approx_topk is exact here: Horus does not shard; like Loki, it
		// answers instant queries only.
		if a.Op == "approx_topk" && !ev.p.Instant {
			return value{}, &ParseError{0, "approx_topk is only supported for instant queries"}
		}
		k := int(a.Param)
		keep := make(map[*series][]bool)
		groups := map[uint64][]*series{}
		for _, s := range v.series {
			h := groupLabels(s.lbls, a.Grouping).Hash()
			groups[h] = append(groups[h], s)
		}
		for _, g := range groups {
			for i := 0; i < n; i++ {
				var cand []*series
				for _, s := range g {
					if s.ok[i] {
						cand = append(cand, s)
					}
				}
				sort.SliceStable(cand, func(x, y int) bool {
					if a.Op != "bottomk" {
						return cand[x].vals[i] > cand[y].vals[i]
					}
					return cand[x].vals[i] < cand[y].vals[i]
				})
				for _, s := range cand[:min(k, len(cand))] {
					if keep[s] == nil {
						keep[s] = make([]bool, n)
					}
					keep[s][i] = true
				}
			}
		}
		out := value{}
		for _, s := range v.series {
			if ok := keep[s]; ok != nil {
				s.ok = ok
				out.series = append(out.series, s)
			}
		}
		return out, nil
	}
	type group struct {
		s    *series
		cnt  []float64
		mean []float64 // stddev, stdvar: Welford
		m2   []float64
	}
	groups := map[uint64]*group{}
	var order []uint64
	for _, s := range v.series {
		gl := groupLabels(s.lbls, a.Grouping)
		h := gl.Hash()
		g, ok := groups[h]
		if !ok {
			g = &group{s: &series{lbls: gl, vals: make([]float64, n), ok: make([]bool, n)}, cnt: make([]float64, n)}
			if a.Op == "stddev" || a.Op == "stdvar" {
				g.mean, g.m2 = make([]float64, n), make([]float64, n)
			}
			groups[h] = g
			order = append(order, h)
		}
		for i := 0; i < n; i++ {
			if !s.ok[i] {
				continue
			}
			x := s.vals[i]
			first := !g.s.ok[i]
			g.s.ok[i] = true
			g.cnt[i]++
			switch a.Op {
			case "sum", "avg":
				g.s.vals[i] += x
			case "count":
				g.s.vals[i]++
			case "min":
				if first || x < g.s.vals[i] || math.IsNaN(g.s.vals[i]) {
					g.s.vals[i] = x
				}
			case "max":
				if first || x > g.s.vals[i] || math.IsNaN(g.s.vals[i]) {
					g.s.vals[i] = x
				}
			case "stddev", "stdvar":
				d := x - g.mean[i]
				g.mean[i] += d / g.cnt[i]
				g.m2[i] += d * (x - g.mean[i])
			}
		}
	}
	out := value{}
	for _, h := range order {
		g := groups[h]
		for i := 0; i < n; i++ {
			if !g.s.ok[i] {
				continue
			}
			switch a.Op {
			case "avg":
				g.s.vals[i] /= g.cnt[i]
			case "stdvar":
				g.s.vals[i] = g.m2[i] / g.cnt[i]
			case "stddev":
				g.s.vals[i] = math.Sqrt(g.m2[i] / g.cnt[i])
			}
		}
		out.series = append(out.series, g.s)
	}
	return out, nil
}

func (ev *evaluator) binary(b *BinaryExpr, l, r value) (value, error) {
	n := ev.g.n
	isCmp := binPrec[b.Op] == 3
	switch {
	case l.scalar != nil && r.scalar != nil:
		out := make([]float64, n)
		for i := range out {
			v, keep := binop(b.Op, l.scalar[i], r.scalar[i])
			if isCmp && !keep {
				v = 0
			} else if isCmp {
				v = 1
			}
			out[i] = v
		}
		return value{scalar: out}, nil
	case l.scalar != nil || r.scalar != nil:
		vec, sc, scalarLeft := r, l.scalar, true
		if r.scalar != nil {
			vec, sc, scalarLeft = l, r.scalar, false
		}
		for _, s := range vec.series {
			for i := 0; i < n; i++ {
				if !s.ok[i] {
					continue
				}
				x, y := s.vals[i], sc[i]
				if scalarLeft {
					x, y = y, x
				}
				v, keep := binop(b.Op, x, y)
				switch {
				case isCmp && b.ReturnBool:
					s.vals[i] = boolVal(keep)
				case isCmp:
					s.ok[i] = keep
				default:
					s.vals[i] = v
				}
			}
		}
		return vec, nil
	}
	switch b.Op {
	case "and", "or", "unless":
		return mergeSeries(ev.setOp(b, l, r))
	}
	m := b.Matching
	if m == nil {
		m = &VectorMatching{}
	}
	sig := func(ls labels.Labels) uint64 {
		if m.On {
			return labels.NewBuilder(ls).Keep(m.Labels...).Labels().Hash()
		}
		return labels.NewBuilder(ls).Del(m.Labels...).Labels().Hash()
	}
	one, many := r, l
	if m.Card == "group_right" {
		one, many = l, r
	}
	// The "one" side: one series per signature at each step.
	oneBySig := map[uint64][]*series{}
	for _, s := range one.series {
		h := sig(s.lbls)
		oneBySig[h] = append(oneBySig[h], s)
	}
	out := value{}
	// The steps at which a signature has matched a many-side series: as
	// in Loki's vectorBinop, one-to-one matching fails only when two
	// series of a signature are there at the same step.
	manySeen := map[uint64][]bool{}
	for _, s := range many.series {
		h := sig(s.lbls)
		cands := oneBySig[h]
		if len(cands) == 0 {
			continue
		}
		seen := manySeen[h]
		if m.Card == "" && seen == nil {
			seen = make([]bool, n)
			manySeen[h] = seen
		}
		res := &series{lbls: resultLabels(s.lbls, cands[0].lbls, m, isCmp && !b.ReturnBool), vals: make([]float64, n), ok: make([]bool, n)}
		for i := 0; i < n; i++ {
			if !s.ok[i] {
				continue
			}
			var o *series
			for _, c := range cands {
				if c.ok[i] {
					if o != nil {
						return value{}, fmt.Errorf("found duplicate series for the match group on the right side of %s; many-to-many matching is not allowed", b.Op)
					}
					o = c
				}
			}
			if o == nil {
				continue
			}
			if seen != nil {
				if seen[i] {
					return value{}, fmt.Errorf("found duplicate series for the match group on the left side of %s; use on(), ignoring() or group_left", b.Op)
				}
				seen[i] = true
			}
			x, y := s.vals[i], o.vals[i]
			if m.Card == "group_right" {
				x, y = y, x
			}
			v, keep := binop(b.Op, x, y)
			switch {
			case isCmp && b.ReturnBool:
				res.vals[i], res.ok[i] = boolVal(keep), true
			case isCmp:
				if keep {
					res.vals[i], res.ok[i] = s.vals[i], true
					if m.Card == "group_right" {
						res.vals[i] = o.vals[i]
					}
				}
			default:
				res.vals[i], res.ok[i] = v, true
			}
		}
		out.series = append(out.series, res)
	}
	return mergeSeries(out)
}

func resultLabels(many, one labels.Labels, m *VectorMatching, filter bool) labels.Labels {
	if filter {
		return many
	}
	b := labels.NewBuilder(many)
	if m.Card == "" {
		if m.On {
			b.Keep(m.Labels...)
		} else {
			b.Del(m.Labels...)
		}
	}
	for _, l := range m.Include {
		if v := one.Get(l); v != "" {
			b.Set(l, v)
		} else {
			b.Del(l)
		}
	}
	return b.Labels()
}

func (ev *evaluator) setOp(b *BinaryExpr, l, r value) value {
	n := ev.g.n
	m := b.Matching
	sig := func(ls labels.Labels) uint64 {
		if m != nil && m.On {
			return labels.NewBuilder(ls).Keep(m.Labels...).Labels().Hash()
		}
		if m != nil {
			return labels.NewBuilder(ls).Del(m.Labels...).Labels().Hash()
		}
		return ls.Hash()
	}
	rightAt := map[uint64][]bool{}
	for _, s := range r.series {
		h := sig(s.lbls)
		if rightAt[h] == nil {
			rightAt[h] = make([]bool, n)
		}
		for i := range s.ok {
			rightAt[h][i] = rightAt[h][i] || s.ok[i]
		}
	}
	switch b.Op {
	case "and", "unless":
		for _, s := range l.series {
			at := rightAt[sig(s.lbls)]
			for i := 0; i < n; i++ {
				has := at != nil && at[i]
				if b.Op == "and" && !has || b.Op == "unless" && has {
					s.ok[i] = false
				}
			}
		}
		return l
	}
	// or: the left, and the right where the left has no series of the
	// signature at that step.
	leftAt := map[uint64][]bool{}
	for _, s := range l.series {
		h := sig(s.lbls)
		if leftAt[h] == nil {
			leftAt[h] = make([]bool, n)
		}
		for i := range s.ok {
			leftAt[h][i] = leftAt[h][i] || s.ok[i]
		}
	}
	out := value{series: slices.Clone(l.series)}
	for _, s := range r.series {
		at := leftAt[sig(s.lbls)]
		for i := 0; i < n; i++ {
			if at != nil && at[i] {
				s.ok[i] = false
			}
		}
		out.series = append(out.series, s)
	}
	return out
}

func boolVal(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// binop applies an arithmetic or comparison operator; keep is a
// comparison's outcome.
func binop(op string, x, y float64) (v float64, keep bool) {
	switch op {
	case "+":
		return x + y, true
	case "-":
		return x - y, true
	case "*":
		return x * y, true
	case "/":
		return x / y, true
	case "%":
		return math.Mod(x, y), true
	case "^":
		return math.Pow(x, y), true
	case "==":
		return x, x == y
	case "!=":
		return x, x != y
	case ">":
		return x, x > y
	case ">=":
		return x, x >= y
	case "<":
		return x, x < y
	case "<=":
		return x, x <= y
	}
	return math.NaN(), false
}
