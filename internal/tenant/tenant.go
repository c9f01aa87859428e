// Package tenant names tenants: the X-Scope-OrgID header of Grafana's
// convention, checked to be usable as a directory name. It also carries
// them: in a request's context (WithContext, FromContext), and on metric
// series as the reserved Label.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"regexp"
)

// Default is the tenant of requests without X-Scope-OrgID.
const Default = "default"

// Header carries the tenant.
const Header = "X-Scope-OrgID"

// ErrInvalid is wrapped by Check's errors.
var ErrInvalid = errors.New("invalid tenant")

var re = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,150}$`)

// Check validates a tenant name: 1 to 150 letters, digits, '_', '.' and
// '-', not "." or "..". (Loki and Mimir allow a few more punctuation
// characters; Horus keeps names safe as directory names.)
func Check(t string) error {
	if !re.MatchString(t) || t == "." || t == ".." {
		return fmt.Errorf("%w %q: want 1 to 150 letters, digits, '_', '.' or '-'", ErrInvalid, t)
	}
	return nil
}

// FromHeader returns the tenant an X-Scope-OrgID value names: Default when
// it is empty, else the value if Check accepts it.
func FromHeader(v string) (string, error) {
	if v == "" {
		return Default, nil
	}
	if err := Check(v); err != nil {
		return "", err
	}
	return v, nil
}

// Label is the reserved label that holds the tenant of a metric series:
// every series of a tenant other than Default carries it, the default
// tenant's carry none. Writes refuse it from clients, and reads through
// the tenancy of the metrics store never show it.
const Label = "__tenant__"

type ctxKey struct{}

// WithContext returns ctx carrying tenant t.
func WithContext(ctx context.Context, t string) context.Context {
	return context.WithValue(ctx, ctxKey{}, t)
}

// FromContext returns the tenant WithContext put in ctx; ok is false when
// there is none.
func FromContext(ctx context.Context) (t string, ok bool) {
	t, ok = ctx.Value(ctxKey{}).(string)
	return t, ok
}
