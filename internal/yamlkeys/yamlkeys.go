// Package yamlkeys lists the YAML keys of Go struct types and finds the
// known key nearest a misspelt one, for the configuration and SLO file
// checks that name an unknown key by its YAML path ("metrics.retension:
// unknown key; did you mean metrics.retention?").
package yamlkeys

import (
	"reflect"
	"strings"
)

// Fields maps the YAML keys of struct type t to their field types: a
// field's yaml tag name (its lower-cased Go name without one), skipping
// "-" and unexported fields, with the keys of ",inline" struct fields
// (embedded ones included) in place of the field.
func Fields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			for k, v := range Fields(f.Type) {
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

// Nearest is the key of known closest to k by edit distance, if it is
// close enough to be a typo of it (at most a third of k's length, and at
// most 3 edits); "" otherwise. Ties go to the key first in byte order.
func Nearest[V any](k string, known map[string]V) string {
	limit := min(3, max(1, len(k)/3))
	best, bestD := "", limit+1
	for f := range known {
		if d := editDistance(k, f); d < bestD || d == bestD && f < best {
			best, bestD = f, d
		}
	}
	if bestD > limit {
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
