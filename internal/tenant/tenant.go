// Package tenant names tenants: the X-Scope-OrgID header of Grafana's
// convention, checked to be usable as a directory name.
package tenant

import (
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
