package loki

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestVolume checks index/volume's grouping against Loki's rules
// (pkg/util/series_volume.go, PrepareLabelsAndMatchers; the ingester's
// instance.getVolume; queryrange.toPrometheusData for the metric of
// aggregateBy=labels; seriesvolume.MapToVolumeResponse for the order):
// by the selector's matcher names without targetLabels, by every label
// for {}, by the target labels (streams without one left out), and by
// label name with aggregateBy=labels.
func TestVolume(t *testing.T) {
	a := startAPI(t)
	t0 := minute()
	pushBytes := func(stream map[string]string, n int) {
		a.push(stream, line{at: t0.Add(time.Second), text: strings.Repeat("x", n)})
	}
	// Every stream also has service_name (from app) and level="unknown".
	pushBytes(map[string]string{"app": "web", "env": "prod", "pod": "a"}, 10)
	pushBytes(map[string]string{"app": "web", "env": "prod", "pod": "b"}, 20)
	pushBytes(map[string]string{"app": "web", "env": "dev", "pod": "c"}, 40)
	pushBytes(map[string]string{"app": "db", "pod": "d"}, 80)

	volume := func(path string, params url.Values) string {
		t.Helper()
		params.Set("start", unix(t0))
		params.Set("end", unix(t0.Add(time.Minute)))
		var r queryResponse
		a.getJSON(path, params, nil, &r)
		var out []string
		for _, s := range r.Data.Result {
			v := s.Value
			if s.Values != nil {
				v = s.Values[len(s.Values)-1]
			}
			out = append(out, fmt.Sprintf("%s=%v", metricText(s.Metric), v[1]))
		}
		return r.Data.ResultType + " " + strings.Join(out, " ")
	}
	for _, tc := range []struct {
		params url.Values
		want   string
	}{
		{url.Values{"query": {`{env=~".+"}`}}, `vector {env="dev"}=40 {env="prod"}=30`},
		{url.Values{"query": {`{app="web", env=~".+"}`}}, `vector {app="web",env="dev"}=40 {app="web",env="prod"}=30`},
		{url.Values{"query": {`{app=~"web|db", app!="x"}`}}, `vector {app="db"}=80 {app="web"}=70`},
		{url.Values{"query": {`{}`}, "limit": {"2"}}, `vector {app="db",level="unknown",pod="d",service_name="db"}=80 {app="web",env="dev",level="unknown",pod="c",service_name="web"}=40`},
		{url.Values{"query": {`{app=~".+"}`}, "targetLabels": {"env"}}, `vector {env="dev"}=40 {env="prod"}=30`},
		{url.Values{"query": {`{pod=~".+"}`}, "targetLabels": {"app,pod"}, "limit": {"3"}}, `vector {app="db",pod="d"}=80 {app="web",pod="c"}=40 {app="web",pod="b"}=20`},
		{url.Values{"query": {`{app=~".+"}`}, "aggregateBy": {"labels"}}, `vector {app=""}=150 {level=""}=150 {pod=""}=150 {service_name=""}=150 {env=""}=70`},
		{url.Values{"query": {`{app=~".+"}`}, "aggregateBy": {"labels"}, "targetLabels": {"pod,env"}}, `vector {env=""}=70 {pod=""}=70`},
		{url.Values{"query": {`{app="db"}`}, "aggregateBy": {"labels"}, "targetLabels": {"app"}}, `vector {app=""}=80`},
	} {
		if got := volume("/loki/api/v1/index/volume", tc.params); got != tc.want {
			t.Errorf("volume %v:\n got %s\nwant %s", tc.params, got, tc.want)
		}
	}
	// volume_range groups the same way, a point per step.
	if got, want := volume("/loki/api/v1/index/volume_range", url.Values{"query": {`{env=~".+"}`}, "step": {"60"}}),
		`matrix {env="dev"}=40 {env="prod"}=30`; got != want {
		t.Errorf("volume_range: %s, want %s", got, want)
	}
	if code, body := a.get("/loki/api/v1/index/volume", url.Values{"query": {`{app="web"}`}, "aggregateBy": {"streams"}}, nil); code != http.StatusBadRequest ||
		!strings.Contains(string(body), "invalid aggregation option") {
		t.Errorf("aggregateBy=streams: %d %s, want 400 invalid aggregation option", code, body)
	}
}

// metricText is a metric as {a="b",c="d"}, names sorted.
func metricText(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}
