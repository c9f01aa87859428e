package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v2"
)

// checkKeys walks a YAML document against the Config struct and reports,
// by YAML path, every key the configuration does not know (with the
// nearest known key at that level when one is close) and every section
// given as something other than a mapping. yaml.UnmarshalStrict says the
// same things in Go's words ("field retension not found in type
// config.MetricsConfig"); this is what the user wrote instead.
// Sections whose types decode themselves (custom UnmarshalYAML, Prometheus'
// global and scrape_configs) are left to their decoders.
func checkKeys(b []byte) error {
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil // the strict decode reports syntax errors with lines
	}
	var errs []error
	walkKeys(doc, reflect.TypeFor[Config](), "", &errs)
	return errors.Join(errs...)
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// yamlFields lists the YAML keys of a struct type, inline fields' keys
// included.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func walkKeys(v any, t reflect.Type, path string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil || reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeFor[yaml.MapSlice]() {
			return
		}
		m, ok := v.(map[any]any)
		if !ok {
			*errs = append(*errs, &FieldError{Field: orTop(path), Err: fmt.Errorf("want a mapping of keys, got %s", yamlKind(v))})
			return
		}
		fields := yamlFields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, fmt.Sprint(k))
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, known := fields[k]
			if !known {
				msg := "unknown key"
				if near := nearest(k, fields); near != "" {
					msg += fmt.Sprintf("; did you mean %s?", join(path, near))
				}
				*errs = append(*errs, &FieldError{Field: join(path, k), Err: errors.New(msg)})
				continue
			}
			walkKeys(m[k], ft, join(path, k), errs)
		}
	case reflect.Map:
		if m, ok := v.(map[any]any); ok {
			for k, e := range m {
				walkKeys(e, t.Elem(), join(path, fmt.Sprint(k)), errs)
			}
		}
	case reflect.Slice:
		if t == reflect.TypeFor[yaml.MapSlice]() {
			return
		}
		if l, ok := v.([]any); ok {
			for i, e := range l {
				walkKeys(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
			}
		}
	}
}

func orTop(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func yamlKind(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case map[any]any:
		return "a mapping"
	case string:
		return fmt.Sprintf("the text %q", v)
	}
	return fmt.Sprintf("the value %v", v)
}

// nearest is the known key closest to k by edit distance, if it is close
// enough to be a typo (at most a third of the key's length, and 3).
func nearest(k string, fields map[string]reflect.Type) string {
	best, bestD := "", min(3, max(1, len(k)/3))+1
	for f := range fields {
		if d := editDistance(k, f); d < bestD || d == bestD && f < best {
			best, bestD = f, d
		}
	}
	if bestD > min(3, max(1, len(k)/3)) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// setsKey reports whether the YAML document sets a top-level key.
func setsKey(b []byte, key string) bool {
	var doc map[string]any
	if yaml.Unmarshal(b, &doc) != nil {
		return false
	}
	_, ok := doc[key]
	return ok
}
