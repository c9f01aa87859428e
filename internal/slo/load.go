package slo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/horus-obs/horus/internal/yamlkeys"
)

// Load reads the SLO files matched by patterns (globs, as the config's
// slo_files and Prometheus' rule_files: a pattern matching no file is not
// an error, a plain path that does not exist is), in order, each file's
// documents in order, and returns their SLOs checked and with their
// defaults filled. Errors name the file and line.
func Load(patterns []string) ([]SLO, error) {
	var files []string
	for _, p := range patterns {
		ms, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("slo files %q: %w", p, err)
		}
		if len(ms) == 0 && !hasMeta(p) {
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("slo file: %w", err)
			}
		}
		sort.Strings(ms)
		for _, m := range ms {
			if !slices.Contains(files, m) {
				files = append(files, m)
			}
		}
	}
	var docs []document
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("slo file: %w", err)
		}
		ds, err := splitDocuments(b, f)
		if err != nil {
			return nil, err
		}
		docs = append(docs, ds...)
	}
	return build(docs)
}

// Parse reads the SLOs of one file's content; file names it in errors.
func Parse(b []byte, file string) ([]SLO, error) {
	docs, err := splitDocuments(b, file)
	if err != nil {
		return nil, err
	}
	return build(docs)
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// document is one YAML document of an SLO file.
type document struct {
	file string
	node *yaml.Node // the document's mapping
}

// pos is a position for an error message: "file:line".
func (d document) pos(n *yaml.Node) string {
	if n == nil {
		n = d.node
	}
	return fmt.Sprintf("%s:%d", d.file, n.Line)
}

func splitDocuments(b []byte, file string) ([]document, error) {
	if file == "" {
		file = "<input>"
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []document
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
			continue
		}
		root := n.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document ("---" at the end)
		}
		if root.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s:%d: want a mapping (version: …, or apiVersion: … and kind: …)", file, root.Line)
		}
		docs = append(docs, document{file: file, node: root})
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s: no SLO document in the file", file)
	}
	return docs, nil
}

// value returns the value node of key in mapping m, or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalar(m *yaml.Node, key string) string {
	if v := value(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// build turns documents into SLOs: each by its format, OpenSLO
// references resolved across all documents.
func build(docs []document) ([]SLO, error) {
	var out []SLO
	var errs []error
	osl := newOpenSLOSet()
	for _, d := range docs {
		version, apiVersion := scalar(d.node, "version"), scalar(d.node, "apiVersion")
		var slos []SLO
		var err error
		switch {
		case version == SpecSloth:
			slos, err = parseSloth(d, d.node)
		case version == SpecHorus:
			slos, err = parseHorus(d)
		case apiVersion == "sloth.slok.dev/v1":
			slos, err = parseSlothCRD(d)
		case apiVersion == SpecOpenSLO:
			err = osl.add(d)
		case strings.HasPrefix(apiVersion, "openslo/"):
			err = fmt.Errorf("%s: apiVersion %s is not supported: Horus reads OpenSLO v1 (apiVersion: openslo/v1)", d.pos(value(d.node, "apiVersion")), apiVersion)
		case version != "":
			err = fmt.Errorf("%s: version %q is not an SLO format Horus reads: want prometheus/v1 (Sloth) or horus/v1", d.pos(value(d.node, "version")), version)
		default:
			err = fmt.Errorf("%s: not an SLO document: want version: prometheus/v1 (Sloth), version: horus/v1, or apiVersion: openslo/v1", d.pos(nil))
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, slos...)
	}
	slos, err := osl.slos()
	if err != nil {
		errs = append(errs, err)
	}
	out = append(out, slos...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	seen := map[string]string{}
	for i := range out {
		s := &out[i]
		if prev, ok := seen[s.ID]; ok {
			errs = append(errs, fmt.Errorf("%s: SLO %s is defined twice (also at %s): its rule groups and series would clash", s.File, s.ID, prev))
		}
		seen[s.ID] = s.File
	}
	return out, errors.Join(errs...)
}

// decodeStrict decodes n into v after checking that every key of n is a
// field of v: a misspelt key is an error naming its line and the nearest
// known key, not a silently ignored setting.
func decodeStrict(d document, n *yaml.Node, v any, path string) error {
	var errs []error
	checkKeys(d, n, reflect.TypeOf(v), path, &errs)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := n.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", d.file, cleanYAMLError(err))
	}
	return nil
}

var nodeType = reflect.TypeFor[yaml.Node]()

func checkKeys(d document, n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil || t == nodeType || n.Kind == yaml.AliasNode {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Tag != "!!null" {
				*errs = append(*errs, fmt.Errorf("%s: %s: want a mapping of keys", d.pos(n), orTop(path)))
			}
			return
		}
		fields := yamlkeys.Fields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				msg := fmt.Sprintf("%s: %s: unknown key", d.pos(k), join(path, k.Value))
				if near := yamlkeys.Nearest(k.Value, fields); near != "" {
					msg += "; did you mean " + join(path, near) + "?"
				}
				*errs = append(*errs, errors.New(msg))
				continue
			}
			checkKeys(d, v, ft, join(path, k.Value), errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			checkKeys(d, c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkKeys(d, n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), errs)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "the document"
	}
	return path
}

// cleanYAMLError drops yaml's Go type names ("into slo.slothSLO").
func cleanYAMLError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if j := strings.Index(m, " into "); j >= 0 {
			m = m[:j] + " (wrong type)"
		}
		msgs[i] = m
	}
	return errors.New(strings.Join(msgs, "; "))
}
