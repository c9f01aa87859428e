package metrics

import (
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

var (
	counter   = dto.MetricType_COUNTER
	gauge     = dto.MetricType_GAUGE
	histogram = dto.MetricType_HISTOGRAM
	summary   = dto.MetricType_SUMMARY
	untyped   = dto.MetricType_UNTYPED
)

// TestBadNamesRefused: each bad example of the naming list, and the
// other rules, is refused with its rule and a fix that says what to do.
func TestBadNamesRefused(t *testing.T) {
	cases := []struct {
		name    string
		typ     dto.MetricType
		rule    Rule
		problem string // in RuleError.Problem
		fix     string // in RuleError.Fix
	}{
		{"httpRequestsTotal", counter, RuleSnakeCase, "camelCase", "http_requests_total"},
		{"http-requests-total", counter, RuleNameChars, "dashes", "http_requests_total"},
		{"http.server.request.duration", histogram, RuleNameChars, "dots", "http_server_request_duration"},
		{"http.server.request.duration", histogram, RuleMissingUnit, `"duration"`, "http_server_request_duration_seconds"},
		{"9lives_total", counter, RuleNameChars, "leading digit", "_9lives_total"},
		{"http_request_duration", histogram, RuleMissingUnit, `"duration"`, "http_request_duration_seconds"},
		{"db_query_latency", summary, RuleMissingUnit, `"latency"`, "db_query_latency_seconds"},
		{"gc_pause_time_total", counter, RuleMissingUnit, `"time"`, "gc_pause_time_seconds_total"},
		{"http_response_size", histogram, RuleMissingUnit, `"size"`, "http_response_size_bytes"},
		{"cpu_temperature", gauge, RuleMissingUnit, `"temperature"`, "cpu_temperature_celsius"},
		{"http_requests", counter, RuleCounterTotal, `"_total"`, "http_requests_total"},
		{"http_requests_count", counter, RuleCounterTotal, `"_total"`, "http_requests_total"},
		{"http_requests_count", counter, RuleReservedSuffix, `"_count"`, "http_requests_total"},
		{"queue_depth_total", gauge, RuleTotalSuffix, "gauge", "queue_depth"},
		{"jobs_bucket", gauge, RuleReservedSuffix, `"_bucket"`, "jobs"},
		{"request_duration_seconds_sum", histogram, RuleReservedSuffix, `"_sum"`, "request_duration_seconds"},
		{"orders_counter_total", counter, RuleTypeInName, `"counter"`, "orders_total"},
		{"request_latency_milliseconds", histogram, RuleBaseUnit, `"milliseconds"`, "request_latency_seconds"},
		{"request_latency_ms", histogram, RuleUnitAbbreviation, `"ms"`, "request_latency_seconds"},
		{"response_size_kb", histogram, RuleUnitAbbreviation, `"kb"`, "response_size_bytes"},
		{"payload_megabytes", gauge, RuleBaseUnit, `"megabytes"`, "payload_bytes"},
		{"disk_usage_percent", gauge, RuleBaseUnit, `"percent"`, "disk_usage_ratio"},
		{"job_runtime_minutes", gauge, RuleBaseUnit, `"minutes"`, "job_runtime_seconds"},
		{"link_speed_bits", gauge, RuleBaseUnit, `"bits"`, "link_speed_bytes"},
		{"room_fahrenheit", gauge, RuleBaseUnit, `"fahrenheit"`, "room_celsius"},
		{"api_requests_per_second", gauge, RuleBaseUnit, "rate", "rate()"},
		{"shop:orders_total", counter, RuleColon, "recording rules", "shop_orders_total"},
		{"__orders_total", counter, RuleReservedPrefix, `"__"`, "orders_total"},
		{"", counter, RuleNameChars, "empty", "orders_created_total"},
	}
	for _, c := range cases {
		t.Run(c.name+"/"+string(c.rule), func(t *testing.T) {
			err := CheckName(c.name, c.typ)
			if err == nil {
				t.Fatalf("CheckName(%q, %v) = nil, want rule %s", c.name, c.typ, c.rule)
			}
			var got *RuleError
			for _, e := range RuleErrors(err) {
				if e.Rule == c.rule {
					got = e
				}
			}
			if got == nil {
				t.Fatalf("CheckName(%q) = %v; want rule %s among them", c.name, err, c.rule)
			}
			if !strings.Contains(got.Problem, c.problem) || !strings.Contains(got.Fix, c.fix) {
				t.Errorf("%s: problem %q fix %q; want them to contain %q and %q", c.rule, got.Problem, got.Fix, c.problem, c.fix)
			}
			if got.Metric != c.name || got.Source == "" {
				t.Errorf("metric %q source %q", got.Metric, got.Source)
			}
			msg := got.Error()
			if !strings.Contains(msg, string(c.rule)) || !strings.Contains(msg, got.Fix) {
				t.Errorf("Error() %q does not name the rule and the fix", msg)
			}
		})
	}
}

// TestGoodNamesPass: the names of the naming practices' examples, the SDK's
// own metrics and client_golang's standard ones pass.
func TestGoodNamesPass(t *testing.T) {
	cases := []struct {
		name string
		typ  dto.MetricType
	}{
		{"http_requests_total", counter},
		{"http_request_duration_seconds", histogram},
		{"http_requests_in_progress", gauge},
		{"http_client_request_duration_seconds", histogram},
		{"process_cpu_seconds_total", counter},
		{"process_start_time_seconds", gauge},
		{"node_memory_usage_bytes", gauge},
		{"go_goroutines", gauge},
		{"go_memstats_alloc_bytes_total", counter},
		{"go_sql_wait_duration_seconds_total", counter},
		{"go_sql_max_idle_time_closed_total", counter},
		// The rest of client_golang's database/sql pool collector.
		{"go_sql_max_open_connections", gauge},
		{"go_sql_open_connections", gauge},
		{"go_sql_in_use_connections", gauge},
		{"go_sql_idle_connections", gauge},
		{"go_sql_wait_count_total", counter},
		{"go_sql_max_idle_closed_total", counter},
		{"go_sql_max_lifetime_closed_total", counter},
		{"orders_created_total", counter},
		{"order_value_dollars", histogram},
		{"foobar_build_info", gauge},
		{"data_pipeline_last_record_processed_timestamp_seconds", gauge},
		{"disk_usage_ratio", gauge},
		{"cpu_temperature_celsius", gauge},
		{"shop_email_queue_depth", gauge},
		{"shop_email_busy_seconds_total", counter},
		{"rpc_duration_seconds", summary},
		{"temperature_min_celsius", gauge},
		{"tsdb_head_native_histogram_buckets", gauge}, // about histograms, not one: type-in-name is the own type only
		{"http_request_timeout_total", counter},
		{"legacy_things_total", untyped},
		{DroppedSeriesName, counter},
	}
	for _, c := range cases {
		if err := CheckName(c.name, c.typ); err != nil {
			t.Errorf("CheckName(%q, %v) = %v, want nil", c.name, c.typ, err)
		}
	}
}

// TestUntypedSkipsTypeRules: the rules that need the type are not applied
// to untyped metrics, as promlint does not.
func TestUntypedSkipsTypeRules(t *testing.T) {
	for _, n := range []string{"jobs_total", "jobs", "jobs_count"} {
		if err := CheckName(n, untyped); err != nil {
			t.Errorf("CheckName(%q, untyped) = %v", n, err)
		}
	}
}

// TestBadLabelNamesRefused: label names of the deny list and malformed ones
// are refused, each with the alternative.
func TestBadLabelNamesRefused(t *testing.T) {
	cases := []struct {
		label string
		rule  Rule
		fix   string
	}{
		{"user_id", RuleHighCardinalityLabel, "span attribute"},
		{"userId", RuleLabelSnakeCase, "user_id"},
		{"userId", RuleHighCardinalityLabel, "log field"},
		{"request_id", RuleHighCardinalityLabel, "exemplar"},
		{"trace_id", RuleHighCardinalityLabel, "exemplar"},
		{"span_id", RuleHighCardinalityLabel, "exemplar"},
		{"session_id", RuleHighCardinalityLabel, "log field"},
		{"order_id", RuleHighCardinalityLabel, "span attribute"},
		{"uuid", RuleHighCardinalityLabel, "exemplar"},
		{"email", RuleHighCardinalityLabel, "log field"},
		{"ip", RuleHighCardinalityLabel, "client.address"},
		{"client_ip", RuleHighCardinalityLabel, "client.address"},
		{"url", RuleHighCardinalityLabel, "route"},
		{"path", RuleHighCardinalityLabel, "r.Pattern"},
		{"http-method", RuleLabelChars, "http_method"},
		{"http.method", RuleLabelChars, "http_method"},
		{"__tenant", RuleLabelReserved, "tenant"},
		{"le", RuleLabelReserved, "threshold"},
		{"quantile", RuleLabelReserved, "histogram"},
		{"", RuleLabelChars, "method"},
	}
	for _, c := range cases {
		err := CheckLabelName(c.label)
		var got *RuleError
		for _, e := range RuleErrors(err) {
			if e.Rule == c.rule {
				got = e
			}
		}
		if got == nil {
			t.Errorf("CheckLabelName(%q) = %v; want rule %s", c.label, err, c.rule)
			continue
		}
		if got.Label != c.label || !strings.Contains(got.Fix, c.fix) {
			t.Errorf("CheckLabelName(%q) %s: label %q fix %q, want fix containing %q", c.label, c.rule, got.Label, got.Fix, c.fix)
		}
	}
	for _, ok := range []string{"method", "route", "status", "payment_method", "tenant", "peer", "result", "code"} {
		if err := CheckLabelName(ok); err != nil {
			t.Errorf("CheckLabelName(%q) = %v, want nil", ok, err)
		}
	}
}

func TestMissingUnitHeuristic(t *testing.T) {
	cases := []struct {
		name    string
		counter bool
		q, unit string
	}{
		{"http_request_duration", false, "duration", "seconds"},
		{"gc_pause_time_total", true, "time", "seconds"},
		{"process_uptime", false, "uptime", "seconds"},
		{"cache_entry_ttl", false, "ttl", "seconds"},
		{"heap_memory", false, "memory", "bytes"},
		{"request_time_slots", false, "", ""}, // "time" qualifies "slots"
		{"runtime_info", false, "", ""},       // info pseudo-metrics are not checked
		{"duration", false, "", ""},           // one word: the prefix alone
		{"jobs_total", true, "", ""},
		{"http_request_timeout_total", true, "", ""},               // counts timeouts
		{"scrapes_sample_duplicate_timestamp_total", true, "", ""}, // counts events
		{"head_max_time", false, "time", "seconds"},
		{"lowest_timestamp", false, "timestamp", "seconds"},
	}
	for _, c := range cases {
		q, unit, ok := MissingUnit(c.name, c.counter)
		if q != c.q || unit != c.unit || ok != (c.q != "") {
			t.Errorf("MissingUnit(%q, %v) = %q, %q, %v; want %q, %q", c.name, c.counter, q, unit, ok, c.q, c.unit)
		}
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"httpRequestsTotal":            "http_requests_total",
		"HTTPRequestsTotal":            "http_requests_total",
		"http-requests--total":         "http_requests_total",
		"http.server.request.duration": "http_server_request_duration",
		"already_snake":                "already_snake",
		"9lives":                       "_9lives",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}
