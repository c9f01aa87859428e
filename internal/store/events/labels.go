package events

import (
	"sort"
	"strings"
)

// Stream labels are how logs are named in LogQL and the Loki API: the
// resource attributes of a log record, named as Loki labels, and its level.
// Ingest keeps only low-cardinality attributes in a log's resource (the
// others go to its attributes, Loki's structured metadata), so every
// resource attribute of a log is a stream label.
//
// A resource attribute key becomes a label name by labelAliases, else by
// replacing every character other than ASCII letters, digits and '_' by
// '_' (as Loki names OTLP resource attributes): service.name is
// service_name, k8s.pod.name is k8s_pod_name.

// Label is a stream label.
type Label struct {
	Name, Value string
}

// labelAliases are the resource attributes whose label names are short.
var labelAliases = map[string]string{
	"deployment.environment.name": "env",
	"deployment.environment":      "env",
	"host.name":                   "host",
}

// LabelName is the stream label name of a resource attribute key.
func LabelName(key string) string {
	if a, ok := labelAliases[key]; ok {
		return a
	}
	return SanitizeLabelName(key)
}

// SanitizeLabelName makes a valid Prometheus/Loki label name of s: every
// byte other than ASCII letters, digits and '_' becomes '_', and a name
// starting with a digit gets a leading '_'.
func SanitizeLabelName(s string) string {
	if IsLabelName(s) {
		return s
	}
	var b strings.Builder
	if s == "" || isDigit(s[0]) {
		b.WriteByte('_')
	}
	for i := 0; i < len(s); i++ {
		if isLabelByte(s[i]) {
			b.WriteByte(s[i])
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// IsLabelName reports whether s is a valid label name: one that
// SanitizeLabelName leaves as it is.
func IsLabelName(s string) bool {
	ok := s != "" && !isDigit(s[0])
	for i := 0; ok && i < len(s); i++ {
		ok = isLabelByte(s[i])
	}
	return ok
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isLabelByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c)
}

// labelNameIs reports whether key's label name is name, without making it.
func labelNameIs(key, name string) bool {
	if a, ok := labelAliases[key]; ok {
		return a == name
	}
	i := 0
	if key == "" || isDigit(key[0]) {
		if name == "" || name[0] != '_' {
			return false
		}
		i = 1
	}
	if len(name)-i != len(key) {
		return false
	}
	for j := 0; j < len(key); j++ {
		c := key[j]
		if !isLabelByte(c) {
			c = '_'
		}
		if c != name[i+j] {
			return false
		}
	}
	return true
}

// StreamLabel returns the value of a log's stream label.
func (e *Event) StreamLabel(name string) (string, bool) {
	if name == "service_name" && e.Service != "" {
		return e.Service, true
	}
	for i := range e.Resource {
		if labelNameIs(e.Resource[i].Key, name) {
			return e.Resource[i].Value.String(), true
		}
	}
	if name == "level" {
		return e.Level(), true
	}
	return "", false
}

// StreamLabels appends a log's stream labels to dst, sorted by name: its
// resource attributes and, unless the resource has them, its level and
// service.
func (e *Event) StreamLabels(dst []Label) []Label {
	start := len(dst)
	hasLevel, hasService := false, false
	for i := range e.Resource {
		n := LabelName(e.Resource[i].Key)
		hasLevel = hasLevel || n == "level"
		hasService = hasService || n == "service_name"
		dst = append(dst, Label{n, e.Resource[i].Value.String()})
	}
	if !hasLevel {
		dst = append(dst, Label{"level", e.Level()})
	}
	if !hasService && e.Service != "" {
		dst = append(dst, Label{"service_name", e.Service})
	}
	ls := dst[start:]
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	// Two attributes may have the same label name (deployment.environment
	// and deployment.environment.name): the first in the resource wins, as
	// in StreamLabel.
	out := ls[:0]
	for i := range ls {
		if len(out) > 0 && out[len(out)-1].Name == ls[i].Name {
			continue
		}
		out = append(out, ls[i])
	}
	return dst[:start+len(out)]
}

// StreamLabelCache makes the stream labels of events once per resource:
// the store shares a resource's attributes between the events that have
// it, so a scan batch has a few. Not safe for concurrent use.
type StreamLabelCache struct {
	m    map[*Attr][]cachedStream
	last *cachedStream
}

type cachedStream struct {
	res     *Attr
	nres    int
	service string
	labels  []Label
	levelAt int // -1 when the resource names the level
}

// Labels returns e's stream labels, as StreamLabels does. The slice is
// the cache's: it is valid until the next call.
func (c *StreamLabelCache) Labels(e *Event) []Label {
	var res *Attr
	if len(e.Resource) > 0 {
		res = &e.Resource[0]
	}
	s := c.last
	if s == nil || s.res != res || s.nres != len(e.Resource) || s.service != e.Service {
		s = nil
		list := c.m[res]
		for i := range list {
			if list[i].nres == len(e.Resource) && list[i].service == e.Service {
				s = &list[i]
				break
			}
		}
		if s == nil {
			s = c.add(e, res)
		}
		c.last = s
	}
	if s.levelAt >= 0 {
		s.labels[s.levelAt].Value = e.Level()
	}
	return s.labels
}

// LevelAdded reports whether the level label of the last Labels call is
// Horus' own (the event's level, added because the resource has none),
// not a label the stream was pushed with. Loki's stream has no such
// label: a parser that finds a level names it level there, not
// level_extracted (logql's row.parsedName).
func (c *StreamLabelCache) LevelAdded() bool { return c.last != nil && c.last.levelAt >= 0 }

func (c *StreamLabelCache) add(e *Event, res *Attr) *cachedStream {
	if c.m == nil || len(c.m) >= 4096 {
		c.m = map[*Attr][]cachedStream{}
	}
	s := cachedStream{res: res, nres: len(e.Resource), service: e.Service, labels: e.StreamLabels(nil), levelAt: -1}
	fromResource := false
	for i := range e.Resource {
		fromResource = fromResource || labelNameIs(e.Resource[i].Key, "level")
	}
	if !fromResource {
		for i, l := range s.labels {
			if l.Name == "level" {
				s.levelAt = i
			}
		}
	}
	c.m[res] = append(c.m[res], s)
	list := c.m[res]
	return &list[len(list)-1]
}
