package metrics

import (
	"sync"

	"github.com/prometheus/prometheus/model/metadata"
)

// MaxMetadataFamilies bounds the metric families whose metadata is kept.
const MaxMetadataFamilies = 100000

// Metadata keeps the type, unit and help of pushed metric families
// (remote write, OTLP), which Prometheus' API would only know for scraped
// targets. It lives in memory: after a restart it fills again as data
// arrives. It is safe for concurrent use.
type Metadata struct {
	mu       sync.RWMutex
	families map[string]map[metadata.Metadata]struct{}
}

// NewMetadata returns an empty index.
func NewMetadata() *Metadata {
	return &Metadata{families: map[string]map[metadata.Metadata]struct{}{}}
}

// Set records md for the metric family. Empty metadata is ignored, as is a
// new family once MaxMetadataFamilies are known.
func (m *Metadata) Set(family string, md metadata.Metadata) {
	if family == "" || md == (metadata.Metadata{}) {
		return
	}
	m.mu.RLock()
	_, known := m.families[family][md]
	m.mu.RUnlock()
	if known {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	set, ok := m.families[family]
	if !ok {
		if len(m.families) >= MaxMetadataFamilies {
			return
		}
		set = map[metadata.Metadata]struct{}{}
		m.families[family] = set
	}
	if len(set) < 10 {
		set[md] = struct{}{}
	}
}

// AddTo adds the families' metadata (only metric's, when metric is not
// empty) to out, the shape of Prometheus' /api/v1/metadata.
func (m *Metadata) AddTo(out map[string]map[metadata.Metadata]struct{}, metric string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	add := func(family string, set map[metadata.Metadata]struct{}) {
		dst, ok := out[family]
		if !ok {
			dst = map[metadata.Metadata]struct{}{}
			out[family] = dst
		}
		for md := range set {
			dst[md] = struct{}{}
		}
	}
	if metric != "" {
		if set, ok := m.families[metric]; ok {
			add(metric, set)
		}
		return
	}
	for family, set := range m.families {
		add(family, set)
	}
}
