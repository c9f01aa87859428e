package slo

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/horus-obs/horus/internal/config"
)

// Set holds the SLOs a server serves: those of the config's slo_files at
// the last load that succeeded. Safe for concurrent use.
type Set struct {
	slos atomic.Pointer[[]SLO]
}

// NewSet returns an empty set.
func NewSet() *Set {
	s := &Set{}
	s.slos.Store(&[]SLO{})
	return s
}

// SLOs returns the SLOs (the caller must not modify them).
func (s *Set) SLOs() []SLO { return *s.slos.Load() }

// Store replaces the SLOs.
func (s *Set) Store(slos []SLO) { s.slos.Store(&slos) }

// Get returns the SLO of an id (sloth_id).
func (s *Set) Get(id string) (SLO, bool) {
	for _, x := range s.SLOs() {
		if x.ID == id {
			return x, true
		}
	}
	return SLO{}, false
}

// RuleGroups loads the SLO files cfg.SLOFiles names and returns their
// rule groups by SLO file (the rule groups of a file's SLOs; a file of no
// SLO has none), for the rules manager to load beside the rule files; on
// success the set holds the new SLOs. On error the set keeps the SLOs it
// had, as the rules manager keeps its rules. It is the ruler's
// Options.Generated.
func (s *Set) RuleGroups(cfg *config.Config) (map[string]*rulefmt.RuleGroups, error) {
	slos, err := Load(cfg.SLOFiles)
	if err != nil {
		return nil, fmt.Errorf("slo_files: %w", err)
	}
	byFile := map[string][]SLO{}
	var order []string
	for _, x := range slos {
		if _, ok := byFile[x.File]; !ok {
			order = append(order, x.File)
		}
		byFile[x.File] = append(byFile[x.File], x)
	}
	out := make(map[string]*rulefmt.RuleGroups, len(order))
	for _, f := range order {
		groups, err := Generate(byFile[f])
		if err != nil {
			return nil, fmt.Errorf("slo_files: %s: %w", f, err)
		}
		out[f] = &groups
	}
	s.Store(slos)
	return out, nil
}
