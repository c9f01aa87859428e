package logql

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/horus-obs/horus/internal/store/events"
)

// TestDetectFields: the fields of a line as Loki's detected-fields code
// finds them (pkg/querier/queryrange/detected_fields.go, parseEntry): JSON
// with each key's path as JSONParser.buildJSONPathFromPrefixBuffer builds
// it (keys unescaped, not sanitized, blank parts kept, "_extracted"
// trimmed), else logfmt; a stream label's name gets "_extracted".
func TestDetectFields(t *testing.T) {
	stream := func(name string) bool { return name == "level" || name == "error_code" }
	for _, tc := range []struct {
		line, parser, want string
	}{
		{`{"level":"warn","error":{"code":"E1"},"user-id":"u","tags":["a"],"n":null}`, "json",
			`level_extracted=warn["level"] error_code_extracted=E1["error" "code"] user_id=u["user-id"]`},
		{`{"a\u002db":{" ":{"c":1}},"x_extracted":{"y":2}}`, "json", `a_b_c=1["a-b" " " "c"] x_extracted_y=2["x" "y"]`},
		{`{"a":1,"a":2}`, "json", `a=1["a"]`},
		{`level=info msg="a b" empty= 1x=2`, "logfmt", `level_extracted=info[] msg=a b[] _1x=2[]`},
		{`{ a=1 level=2`, "logfmt", `a=1[] level_extracted=2[]`}, // not JSON: logfmt reads it
		{`just words`, "logfmt", ``},
	} {
		parser, fields := DetectFields(tc.line, stream)
		var got []string
		for _, f := range fields {
			got = append(got, fmt.Sprintf("%s=%s%q", f.Name, f.Value, f.Path))
		}
		if parser != tc.parser || strings.Join(got, " ") != tc.want {
			t.Errorf("%s: %s %s, want %s %s", tc.line, parser, strings.Join(got, " "), tc.parser, tc.want)
		}
	}
}

func FuzzDetectFields(f *testing.F) {
	for _, s := range []string{
		lokiDocJSON, `{"a":{"b":1}}`, `{"level":"x","a":{" ":{"level":1}}}`, `{"a\u0062":"\ud83d\ude00\q"}`,
		`level=info a="b c"`, `{"a":1,`, "{\"0\":0\xc0", `plain`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		isStream := func(name string) bool { return len(name) < 4 && strings.HasPrefix(name, "l") }
		parser, fields := DetectFields(line, isStream)
		var plain []string
		if parser == "json" {
			if err := JSONFields(line, func(k, v string) { plain = append(plain, k+"="+v) }); err != nil {
				t.Fatalf("json detected, but JSONFields fails: %v", err)
			}
		}
		seen := map[string]bool{}
		for _, d := range fields {
			if !events.IsLabelName(d.Name) || seen[d.Name] {
				t.Fatalf("field %q: not a label name, or twice", d.Name)
			}
			seen[d.Name] = true
			if isStream(d.Name) {
				t.Fatalf("field %q has a stream label's name", d.Name)
			}
			base := d.Name
			if b := strings.TrimSuffix(base, "_extracted"); isStream(b) {
				base = b
			}
			if (parser == "json") != (len(d.Path) > 0) {
				t.Fatalf("field %q of %s has path %q", d.Name, parser, d.Path)
			}
			if parser == "json" && !slices.Contains(plain, base+"="+d.Value) {
				t.Fatalf("field %q=%q is not one JSONFields gives (%q)", d.Name, d.Value, plain)
			}
		}
	})
}
