package investigate

import (
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/api/promeval"
)

// A PromQL symptom's series has NaN where the expression has no value
// (a ratio of 0 to 0), and two flat levels give an infinite mean-shift
// statistic: the answer is still JSON, with null for the NaN.
func TestResultJSONNotANumber(t *testing.T) {
	res := &Result{
		Series: Series{Start: time.Unix(0, 0).UTC(), StepSeconds: 15, Bad: []int{0, 1}, Total: []int{1, 1},
			Values: []float64{math.NaN(), 0.5, math.Inf(1)}},
		Onset: Finding{Kind: KindOnset, Details: &OnsetDetails{Statistic: min(math.Inf(1), math.MaxFloat64)}},
	}
	w := httptest.NewRecorder()
	promeval.Write(w, 200, promeval.Response{Status: "success", Data: res})
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var back struct {
		Data struct {
			Series struct {
				Values []*float64 `json:"values"`
			} `json:"series"`
		} `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &back); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	v := back.Data.Series.Values
	if len(v) != 3 || v[0] != nil || v[1] == nil || *v[1] != 0.5 || v[2] != nil {
		t.Errorf("values %s, want [null, 0.5, null]", w.Body)
	}

	// What JSON cannot encode is a 500 naming it, not an empty 200.
	w = httptest.NewRecorder()
	promeval.Write(w, 200, promeval.Response{Status: "success", Data: &Result{Onset: Finding{Details: math.Inf(1)}}})
	if w.Code != 500 || !strings.Contains(w.Body.String(), "unsupported value") {
		t.Errorf("status %d: %s, want a 500 naming the value", w.Code, w.Body)
	}
}
