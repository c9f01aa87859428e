package logql

import "strings"

// DetectedField is one field DetectFields finds in a line.
type DetectedField struct {
	// Name is the field's label name: sanitized, with "_extracted" when a
	// stream label has it.
	Name  string
	Value string
	// Path is the field's JSON path (Loki's jsonPath): the keys from the
	// line's object down to the field as written (unescaped, not
	// sanitized), "_extracted" trimmed from each; nil for logfmt.
	Path []string
}

// DetectFields parses a line as Loki's detected-fields code does
// (pkg/querier/queryrange/detected_fields.go, parseEntry): as JSON, as
// `| json` does, or, when that fails, as logfmt, as `| logfmt` does
// (empty values dropped; logfmt without --strict never fails). It returns
// the parser that read the line, "json" or "logfmt", and the fields in
// line order, the first of a repeated name kept.
//
// A field whose name isStream reports as a stream label gets the suffix
// "_extracted", as Loki's parsers name a clash (duplicateSuffix; for a
// nested JSON key the suffix ends the flattened name, error_code_extracted).
// Structured metadata does not count: parseEntry's labels builder holds
// the stream labels only.
func DetectFields(line string, isStream func(name string) bool) (parser string, fields []DetectedField) {
	seen := map[string]bool{}
	add := func(name, value string, path []string) {
		if isStream(name) {
			name += "_extracted"
		}
		if seen[name] {
			return
		}
		seen[name] = true
		fields = append(fields, DetectedField{Name: name, Value: value, Path: path})
	}
	err := JSONFieldPaths(line, func(key string, path []string, value string) {
		p := make([]string, len(path))
		for i, part := range path {
			// Loki trims the suffix it gives a clashing part from every
			// part (JSONParser.buildJSONPathFromPrefixBuffer).
			p[i] = strings.TrimSuffix(part, "_extracted")
		}
		add(key, value, p)
	})
	if err == nil {
		return "json", fields
	}
	fields = fields[:0]
	clear(seen)
	_ = Logfmt(line, false, false, func(key, value string) { // never fails without --strict
		if name := sanitizeKey(key); name != "" && value != "" {
			add(name, value, nil)
		}
	})
	return "logfmt", fields
}
