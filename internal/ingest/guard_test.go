package ingest

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

var testLimits = Limits{MaxLabelsPerSeries: 4, MaxLabelNameLength: 16, MaxLabelValueLength: 16}

func TestCheckLabels(t *testing.T) {
	cases := []struct {
		ls     labels.Labels
		reason Reason
	}{
		{labels.FromStrings("__name__", "up", "job", "a"), ""},
		{labels.FromStrings("__name__", "http.requests", "service.name", "ü"), ""}, // UTF-8 names are valid in Prometheus 3
		{labels.FromStrings("__name__", "m", "a", "1", "b", "2", "c", "3", "d", "4"), ReasonTooManyLabels},
		{labels.FromStrings("__name__", "m", strings.Repeat("n", 17), "1"), ReasonLabelNameTooLong},
		{labels.FromStrings("__name__", "m", "user", strings.Repeat("v", 17)), ReasonLabelValueTooLong},
		{labels.FromStrings("job", "a"), ReasonMissingName},
		{labels.FromStrings("__name__", "m", "path", "\xc3\x28"), ReasonInvalidLabels},
		{labels.FromStrings("__name__", "m", "\xc3\x28", "x"), ReasonInvalidLabels},
		{labels.New(labels.Label{Name: "__name__", Value: "m"}, labels.Label{Name: "a", Value: "1"}, labels.Label{Name: "a", Value: "2"}), ReasonDuplicateLabel},
	}
	for _, c := range cases {
		err := testLimits.CheckLabels(c.ls)
		var got Reason
		if err != nil {
			got = err.Reason
		}
		if got != c.reason {
			t.Errorf("%s: reason %q (%v), want %q", c.ls, got, err, c.reason)
		}
	}
}

func TestRejectionsErr(t *testing.T) {
	var r Rejections
	if r.Err() != nil {
		t.Fatal("empty rejections must be nil")
	}
	for i := 0; i < 8; i++ {
		r.Add(Errorf(ReasonTooManyLabels, "series %d", i))
	}
	r.Add(Errorf(ReasonOutOfOrder, "late"))
	err := r.Err()
	if ReasonOf(err) != ReasonTooManyLabels || !strings.HasPrefix(err.Error(), "too_many_labels: 9 item(s) rejected") {
		t.Errorf("err = %v", err)
	}
	if len(r.Messages) != maxMessages {
		t.Errorf("%d messages kept, want %d", len(r.Messages), maxMessages)
	}
}
