package metrics

import (
	"sync"

	"github.com/prometheus/prometheus/model/metadata"
)

// MaxMetadataFamilies bounds the metric families whose metadata is kept,
// of all tenants together.
const MaxMetadataFamilies = 100000

// Metadata keeps the type, unit and help of pushed metric families
// (remote write, OTLP), which Prometheus' API would only know for scraped
// targets, per tenant. It lives in memory: after a restart it fills again
// as data arrives. It is safe for concurrent use.
type Metadata struct {
	mu sync.RWMutex
	// tenants holds each tenant's families; n counts them all.
	tenants map[string]map[string]map[metadata.Metadata]struct{}
	n       int
}

// NewMetadata returns an empty index.
func NewMetadata() *Metadata {
	return &Metadata{tenants: map[string]map[string]map[metadata.Metadata]struct{}{}}
}

// Set records md for the tenant's metric family. Empty metadata is
// ignored, as is a new family once MaxMetadataFamilies are known.
func (m *Metadata) Set(tenant, family string, md metadata.Metadata) {
	if family == "" || md == (metadata.Metadata{}) {
		return
	}
	m.mu.RLock()
	_, known := m.tenants[tenant][family][md]
	m.mu.RUnlock()
	if known {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	families, ok := m.tenants[tenant]
	if !ok {
		families = map[string]map[metadata.Metadata]struct{}{}
		m.tenants[tenant] = families
	}
	set, ok := families[family]
	if !ok {
		if m.n >= MaxMetadataFamilies {
			return
		}
		set = map[metadata.Metadata]struct{}{}
		families[family] = set
		m.n++
	}
	if len(set) < 10 {
		set[md] = struct{}{}
	}
}

// AddTo adds the metadata of the tenant's families (only metric's, when
// metric is not empty) to out, the shape of Prometheus' /api/v1/metadata.
func (m *Metadata) AddTo(out map[string]map[metadata.Metadata]struct{}, tenant, metric string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	families := m.tenants[tenant]
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
		if set, ok := families[metric]; ok {
			add(metric, set)
		}
		return
	}
	for family, set := range families {
		add(family, set)
	}
}
