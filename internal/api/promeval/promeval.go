// Package promeval holds what Horus' own JSON APIs that read metrics with
// PromQL share: an instant query's vector and the API time parameter.
package promeval

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// Instant evaluates the PromQL query qs at ts over q and returns its
// vector; a query whose result is not a vector is an error.
func Instant(ctx context.Context, engine promql.QueryEngine, q storage.Queryable, qs string, ts time.Time) (promql.Vector, error) {
	qry, err := engine.NewInstantQuery(ctx, q, nil, qs, ts)
	if err != nil {
		return nil, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	return res.Vector()
}

// ParseTime reads a time parameter as Prometheus' API does: Unix seconds
// (with a fraction) or RFC 3339; "" is def.
func ParseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e11 {
			return time.Time{}, fmt.Errorf("%q is out of range", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot parse %q as a unix timestamp or RFC 3339 time", s)
	}
	return t, nil
}
