package logging

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/horus-obs/horus/sdk/redact"
)

// redactAttr redacts the value of a under its key: everything under a
// secret key (secret: a group above had one), else what the text
// detectors find. It reports whether the value changed; a resolved
// LogValuer counts as changed, so that the handler beneath does not call
// LogValue again.
func redactAttr(r *redact.Redactor, a slog.Attr, secret bool) (slog.Attr, bool) {
	if a.Value.Kind() == slog.KindLogValuer {
		a.Value = a.Value.Resolve() // bounded by slog; a panic becomes an error value
		a, _ = redactAttr(r, a, secret)
		return a, true
	}
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if s == "" {
			return a, false
		}
		if secret || r.SecretKey(a.Key) {
			if s == redact.Mask {
				return a, false
			}
			a.Value = slog.StringValue(redact.Mask)
			return a, true
		}
		if t, changed := r.Text(s); changed {
			a.Value = slog.StringValue(t)
			return a, true
		}
	case slog.KindGroup:
		secret = secret || a.Key != "" && r.SecretKey(a.Key)
		members := v.Group()
		var out []slog.Attr
		for i, m := range members {
			m2, changed := redactAttr(r, m, secret)
			if changed && out == nil {
				out = make([]slog.Attr, len(members))
				copy(out, members[:i])
			}
			if out != nil {
				out[i] = m2
			}
		}
		if out != nil {
			a.Value = slog.GroupValue(out...)
			return a, true
		}
	case slog.KindAny:
		x := v.Any()
		if x == nil {
			return a, false
		}
		if _, ok := x.(*slog.Source); ok {
			return a, false
		}
		if secret || r.SecretKey(a.Key) {
			a.Value = slog.StringValue(redact.Mask)
			return a, true
		}
		s, ok := anyText(x)
		if !ok {
			return a, false
		}
		if t, changed := r.Text(s); changed {
			a.Value = slog.StringValue(t)
			return a, true
		}
	}
	// Numbers, booleans, times and durations are left alone.
	return a, false
}

// anyText is the text of an Any value as slog's JSON handler writes it:
// an error's Error() (unless it marshals itself to JSON), else its JSON
// encoding, or fmt's %+v for values JSON cannot encode (functions,
// channels, complex numbers). ok is false when there is none: producing
// it panicked (typically a method on a nil pointer) or JSON refused the
// value (a cycle); the next handler copes with the value as it does
// without redaction.
func anyText(x any) (s string, ok bool) {
	defer func() {
		if recover() != nil {
			s, ok = "", false
		}
	}()
	if err, isErr := x.(error); isErr {
		if _, isJSON := x.(json.Marshaler); !isJSON {
			return err.Error(), true
		}
	}
	switch b := x.(type) {
	case []byte:
		return string(b), true
	case json.RawMessage:
		return string(b), true
	}
	b, err := json.Marshal(x)
	if err == nil {
		return string(b), true
	}
	// fmt only for types JSON has no encoding for: a value JSON refuses
	// (a cycle, a NaN) could send fmt into endless recursion.
	if ute := (*json.UnsupportedTypeError)(nil); errors.As(err, &ute) {
		return fmt.Sprintf("%+v", x), true
	}
	return "", false
}
