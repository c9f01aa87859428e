package load

import (
	"math"
	"math/rand/v2"
	"time"
)

// DayShape is the share of the peak rate at an hour of the day (0 ≤ hour
// < 24), between 0.12 and 1: a quiet night, a morning ramp, a lunch peak
// at 12:30, an afternoon plateau and the day's peak at 20:00, the shape of
// a consumer shop's traffic (two Gaussian bumps over a floor).
func DayShape(hour float64) float64 {
	bump := func(center, width float64) float64 {
		d := math.Abs(hour - center)
		d = math.Min(d, 24-d) // the day wraps around midnight
		return math.Exp(-(d * d) / (2 * width * width))
	}
	v := 0.12 + 0.7*bump(12.5, 2.5) + 0.87*bump(20, 2)
	return math.Min(v, 1)
}

// Clock maps real time onto the demo's compressed day: a whole day passes
// in DayLength, starting at StartHour.
type Clock struct {
	Start     time.Time
	DayLength time.Duration
	StartHour float64
}

// Hour is the demo clock's hour of the day (0 ≤ h < 24) at t.
func (c Clock) Hour(t time.Time) float64 {
	h := c.StartHour + 24*t.Sub(c.Start).Hours()/c.DayLength.Hours()
	return math.Mod(h, 24)
}

// zipf draws ranks 0..n-1 with P(k) ∝ 1/(k+1)^s, the skew of real
// popularity (a few tenants, users and products get most of the traffic).
type zipf struct{ cdf []float64 }

func newZipf(n int, s float64) *zipf {
	z := &zipf{cdf: make([]float64, n)}
	var sum float64
	for k := range n {
		sum += 1 / math.Pow(float64(k+1), s)
		z.cdf[k] = sum
	}
	for k := range z.cdf {
		z.cdf[k] /= sum
	}
	return z
}

func (z *zipf) draw(r *rand.Rand) int {
	u := r.Float64()
	lo, hi := 0, len(z.cdf)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if z.cdf[mid] < u {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// OrderSize draws an order's item count from a Pareto distribution with
// minimum 1 and shape 1.3, capped at maxItems: about 90% of orders have
// 1 to 5 items, and one in 400 has 100 or more (P(X > x) = x^-1.3).
func OrderSize(r *rand.Rand, maxItems int) int {
	x := math.Pow(1-r.Float64(), -1/paretoShape) // inverse CDF, in [1, ∞)
	return min(int(x), maxItems)
}

const paretoShape = 1.3

// PaymentMethods are the methods a checkout pays with, and their shares.
var PaymentMethods = []struct {
	Name  string
	Share float64
}{
	{"card", 0.60},
	{"paypal", 0.25},
	{"bank_transfer", 0.10},
	{"gift_card", 0.05},
}

func paymentMethod(r *rand.Rand) string {
	u := r.Float64()
	for _, m := range PaymentMethods {
		if u < m.Share {
			return m.Name
		}
		u -= m.Share
	}
	return PaymentMethods[0].Name
}
