package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"

	"go.yaml.in/yaml/v2"

	"github.com/horus-obs/horus/internal/yamlkeys"
)

// checkKeys walks a YAML document against the Config struct and reports,
// by YAML path, every key the configuration does not know (with the
// nearest known key at that level when one is close) and every section
// given as something other than a mapping. yaml.UnmarshalStrict says the
// same things in Go's words ("field retension not found in type
// config.MetricsConfig"); this is what the user wrote instead.
// Sections whose types decode themselves (custom UnmarshalYAML, Prometheus'
// global and scrape_configs) are left to their decoders. It returns the
// document's top-level keys too (nil when the YAML does not parse: the
// strict decode then reports the syntax error with its line).
func checkKeys(b []byte) (top map[any]any, err error) {
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, nil
	}
	var errs []error
	walkKeys(doc, reflect.TypeFor[Config](), "", &errs)
	top, _ = doc.(map[any]any)
	return top, errors.Join(errs...)
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

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
		fields := yamlkeys.Fields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, fmt.Sprint(k))
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, known := fields[k]
			if !known {
				msg := "unknown key"
				if near := yamlkeys.Nearest(k, fields); near != "" {
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
