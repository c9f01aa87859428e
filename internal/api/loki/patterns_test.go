package loki

import (
	"strings"
	"testing"
)

func TestMiner(t *testing.T) {
	var m miner
	lines := []string{
		"GET /api/orders 200 12ms",
		"GET /api/orders 200 8ms",
		"POST /api/cart 500 1200ms",
		"charge failed for order o-1: bank returned 503",
		"charge failed for order o-2: card expired",
		"cache miss for user alice, loading orders",
		"cache miss for user bob, loading orders",
		"",
	}
	for i, l := range lines {
		m.add(l, int64(i))
	}
	var got []string
	for _, c := range m.clusters() {
		got = append(got, strings.Join(c.words, " ")+" ×"+string(rune('0'+len(c.times))))
	}
	// Routes differ in 2 of 4 words: two templates. Lines of other
	// lengths never merge. Words with digits are variables.
	want := []string{
		"GET /api/orders <_> <_> ×2",
		"cache miss for user <_> loading orders ×2",
		" ×1",
		"POST /api/cart <_> <_> ×1",
		"charge failed for order <_> bank returned <_> ×1",
		"charge failed for order <_> card expired ×1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("patterns:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
