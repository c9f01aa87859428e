package yamlkeys

import (
	"reflect"
	"slices"
	"testing"
)

type inner struct {
	Deep int `yaml:"deep"`
}

type sample struct {
	Retention int `yaml:"retention"`
	Name      string
	Skipped   int `yaml:"-"`
	hidden    int
	inner     `yaml:",inline"`
	Nested    inner `yaml:"nested"`
}

func TestFields(t *testing.T) {
	_ = sample{}.hidden
	got := Fields(reflect.TypeFor[sample]())
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"deep", "name", "nested", "retention"}; !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if got["nested"] != reflect.TypeFor[inner]() {
		t.Errorf("nested is %v", got["nested"])
	}
}

func TestNearest(t *testing.T) {
	known := map[string]int{"retention": 0, "retention_size": 0, "objective": 0, "name": 0}
	for k, want := range map[string]string{
		"retension": "retention", // one edit
		"objetive":  "objective", // one deletion
		"nxmy":      "",          // two edits: more than a third of four letters
		"zzzzzzzz":  "",
		"":          "",
	} {
		if got := Nearest(k, known); got != want {
			t.Errorf("Nearest(%q) = %q, want %q", k, got, want)
		}
	}
}
