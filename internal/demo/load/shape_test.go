package load

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestOrderSize: the Pareto law's shares, P(X >= x) = x^-1.3: about 90%
// of orders of 1 to 5 items, about one in 400 of 100 or more, none above
// the cap.
func TestOrderSize(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 200000
	small, big := 0, 0
	for range n {
		s := OrderSize(r, MaxItems)
		if s < 1 || s > MaxItems {
			t.Fatalf("order size %d outside [1, %d]", s, MaxItems)
		}
		if s <= 5 {
			small++
		}
		if s >= 100 {
			big++
		}
	}
	if got, want := float64(small)/n, 1-math.Pow(6, -paretoShape); math.Abs(got-want) > 0.005 {
		t.Errorf("share of 1-5 items = %.4f, want %.4f", got, want)
	}
	if got, want := float64(big)/n, math.Pow(100, -paretoShape); math.Abs(got-want) > 0.0007 {
		t.Errorf("share of 100+ items = %.5f, want %.5f", got, want)
	}
}

// TestDayShape: between the night's floor and 1, the evening peak the
// busiest hour, the lunch peak above the afternoon trough, the day wrapping
// at midnight; the clock runs a day in DayLength.
func TestDayShape(t *testing.T) {
	best, bestHour := 0.0, 0.0
	for h := 0.0; h < 24; h += 0.25 {
		v := DayShape(h)
		if v < 0.12 || v > 1 {
			t.Fatalf("DayShape(%v) = %v, outside [0.12, 1]", h, v)
		}
		if v > best {
			best, bestHour = v, h
		}
	}
	if math.Abs(bestHour-20) > 0.25 || best < 0.99 {
		t.Errorf("busiest hour %v at %v, want about 20:00 at about 1", bestHour, best)
	}
	if DayShape(12.5) <= DayShape(16) || DayShape(4) > 0.13 {
		t.Errorf("lunch %v, afternoon %v, night %v", DayShape(12.5), DayShape(16), DayShape(4))
	}
	if math.Abs(DayShape(23.99)-DayShape(0)) > 0.01 {
		t.Errorf("no wrap at midnight: %v vs %v", DayShape(23.99), DayShape(0))
	}
	start := time.Unix(0, 0)
	c := Clock{Start: start, DayLength: time.Hour, StartHour: 9}
	if h := c.Hour(start.Add(30 * time.Minute)); math.Abs(h-21) > 1e-9 {
		t.Errorf("half a day after 09:00: %v, want 21", h)
	}
	if h := c.Hour(start.Add(time.Hour)); math.Abs(h-9) > 1e-9 {
		t.Errorf("a day after 09:00: %v, want 9", h)
	}
}

// TestSkew: Zipf ranks, most popular first, in the law's ratio; payment
// methods at their shares.
func TestSkew(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	z := newZipf(len(Tenants), 1.1)
	counts := make([]int, len(Tenants))
	methods := map[string]int{}
	const n = 200000
	for range n {
		counts[z.draw(r)]++
		methods[paymentMethod(r)]++
	}
	for k := 1; k < len(counts); k++ {
		if counts[k] >= counts[k-1] {
			t.Fatalf("rank %d drawn %d times, rank %d %d: not skewed", k, counts[k], k-1, counts[k-1])
		}
	}
	// P(0)/P(1) = 2^1.1.
	if ratio := float64(counts[0]) / float64(counts[1]); math.Abs(ratio-math.Pow(2, 1.1)) > 0.1 {
		t.Errorf("first/second = %.3f, want %.3f", ratio, math.Pow(2, 1.1))
	}
	for _, m := range PaymentMethods {
		if got := float64(methods[m.Name]) / n; math.Abs(got-m.Share) > 0.01 {
			t.Errorf("%s: share %.3f, want %.2f", m.Name, got, m.Share)
		}
	}
}
