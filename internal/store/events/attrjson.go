package events

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Resource attributes are stored as one JSON object per row, in a
// dictionary-encoded column: a block holds a handful of distinct resources,
// so the column costs well under a byte a row, and predicates on resource
// attributes are evaluated once per distinct value. The mapping is typed:
//
//	string  "text"
//	int     an integer literal: 42
//	double  a number with a fraction or exponent: 42.0, 1e+300;
//	        NaN and ±Inf as {"@double": "NaN"}
//	bool    true / false
//	bytes   {"@bytes": "base64"}
//	array   a JSON array, map a JSON object (the Str of TypeArray, TypeMap)
//
// Keys are sorted, so equal resources encode equally. SQL engines read it
// with their JSON functions: resource->>'service.name' in DuckDB.

func encodeAttrsJSON(a Attrs) string {
	if len(a) == 0 {
		return "{}"
	}
	idx := make([]int, len(a))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return a[idx[i]].Key < a[idx[j]].Key })
	var b []byte
	b = append(b, '{')
	for n, i := range idx {
		if n > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, a[i].Key)
		b = append(b, ':')
		b = appendJSONValue(b, a[i].Value)
	}
	return string(append(b, '}'))
}

func appendJSONValue(b []byte, v Value) []byte {
	switch v.Type {
	case TypeStr:
		q, _ := json.Marshal(v.Str)
		return append(b, q...)
	case TypeInt:
		return strconv.AppendInt(b, v.Int, 10)
	case TypeFloat:
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			return append(append(append(b, `{"@double":"`...), strconv.FormatFloat(v.Float, 'g', -1, 64)...), `"}`...)
		}
		n := len(b)
		b = strconv.AppendFloat(b, v.Float, 'g', -1, 64)
		if !bytes.ContainsAny(b[n:], ".e") {
			b = append(b, ".0"...)
		}
		return b
	case TypeBool:
		return strconv.AppendBool(b, v.Int != 0)
	case TypeBytes:
		return append(append(append(b, `{"@bytes":"`...), base64.StdEncoding.EncodeToString([]byte(v.Str))...), `"}`...)
	case TypeArray, TypeMap:
		if json.Valid([]byte(v.Str)) {
			return append(b, v.Str...)
		}
		q, _ := json.Marshal(v.Str)
		return append(b, q...)
	}
	return append(b, "null"...)
}

// decodeAttrsJSON is the inverse of encodeAttrsJSON.
func decodeAttrsJSON(s string) (Attrs, error) {
	if s == "{}" || s == "" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("attributes JSON: %w", err)
	}
	a := make(Attrs, 0, len(m))
	for k, raw := range m {
		v, err := jsonValue(raw)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		a = append(a, Attr{Key: k, Value: v})
	}
	sort.Slice(a, func(i, j int) bool { return a[i].Key < a[j].Key })
	return a, nil
}

func jsonValue(raw json.RawMessage) (Value, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return Value{}, fmt.Errorf("empty value")
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return Str(s), err
	case 't', 'f':
		return Bool(raw[0] == 't'), nil
	case 'n':
		return Value{}, nil
	case '[':
		return Value{Type: TypeArray, Str: string(raw)}, nil
	case '{':
		var w map[string]string
		if json.Unmarshal(raw, &w) == nil && len(w) == 1 {
			if s, ok := w["@bytes"]; ok {
				b, err := base64.StdEncoding.DecodeString(s)
				return Bytes(b), err
			}
			if s, ok := w["@double"]; ok {
				f, err := strconv.ParseFloat(s, 64)
				return Float(f), err
			}
		}
		return Value{Type: TypeMap, Str: string(raw)}, nil
	}
	if bytes.ContainsAny(raw, ".eE") {
		f, err := strconv.ParseFloat(string(raw), 64)
		return Float(f), err
	}
	i, err := strconv.ParseInt(string(raw), 10, 64)
	return Int(i), err
}
