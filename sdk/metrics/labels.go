package metrics

import (
	"fmt"
	"strings"
)

// CheckLabelName checks one label name and returns nil, or every broken rule
// as *RuleError (joined with errors.Join) with Label set and Metric empty.
// The rules: label-chars ([a-zA-Z_][a-zA-Z0-9_]*, the Prometheus data
// model), label-snake-case, label-reserved ("__" prefix; "le" and "quantile",
// which histograms and summaries own) and high-cardinality-label (the deny
// list of HighCardinalityLabels).
func CheckLabelName(name string) error {
	return join(LabelProblems("", name))
}

// LabelProblems is CheckLabelName's list of broken rules for label name of
// metric (which only fills RuleError.Metric), nil when there is none.
func LabelProblems(metric, name string) []*RuleError {
	var out []*RuleError
	add := func(r Rule, problem, fix, src string) {
		out = append(out, &RuleError{Metric: metric, Label: name, Rule: r, Problem: problem, Fix: fix, Source: src})
	}
	if name == "" {
		add(RuleLabelChars, "the label name is empty", "name the dimension, e.g. method or status", srcDataModel)
		return out
	}
	if bad := invalidChars(name, false); bad != "" {
		add(RuleLabelChars, fmt.Sprintf("the label name has characters outside [a-zA-Z0-9_] or starts with a digit (%s)", bad),
			fmt.Sprintf("replace each with \"_\": %s", strings.ReplaceAll(sanitize(name), ":", "_")), srcDataModel)
	}
	if hasUpper(name) {
		add(RuleLabelSnakeCase, "the label name is camelCase or has capitals", fmt.Sprintf("write it in snake_case: %s", sanitize(name)), srcNaming)
	}
	switch {
	case strings.HasPrefix(name, "__"):
		add(RuleLabelReserved, "label names starting with \"__\" are reserved for Prometheus' internal use",
			fmt.Sprintf("drop the leading underscores: %s", strings.TrimLeft(name, "_")), srcDataModel)
	case name == "le":
		add(RuleLabelReserved, "\"le\" is the upper bound of a histogram bucket, set by the client library",
			"name the dimension for what it is (e.g. limit, threshold)", srcExposition)
	case name == "quantile":
		add(RuleLabelReserved, "\"quantile\" is the quantile of a summary, set by the client library",
			"use a histogram (its quantiles are computed in PromQL with histogram_quantile) or name the dimension for what it is", srcExposition)
	}
	if hc, ok := HighCardinalityLabels[sanitize(name)]; ok {
		add(RuleHighCardinalityLabel, fmt.Sprintf("%s: every distinct value is a new time series, so the series grow without bound", hc.What), hc.Fix, srcNamingLabels)
	}
	return out
}

// DeniedLabel explains one entry of HighCardinalityLabels: What the label
// holds and the Fix, the place its values belong instead.
type DeniedLabel struct {
	What string
	Fix  string
}

// The alternatives the deny list points at.
const (
	fixID    = "put per-request ids in an exemplar (trace_id on the RED histograms), a span attribute or a log field, and query them there"
	fixUser  = "put the user in a span attribute (enduser.id) or a log field (the SDK logger's user_id field); count per user from logs or traces; a bounded grouping (plan, tenant, region) can be a label"
	fixEmail = "an e-mail address is personal data as well as unbounded: put it in a log field (redacted) or a span attribute, never a label"
	fixIP    = "put the address in a span attribute (client.address, server.address) or a log field; if a breakdown is needed, label by a bounded group (region, network, peer service)"
	fixPath  = "label by the route template, not the path: route=\"GET /orders/{id}\" (the ServeMux pattern, r.Pattern); the raw URL goes in the span (url.full, url.path) and the access log"
)

// HighCardinalityLabels is the deny list of label names (in snake_case): the
// dimensions the Prometheus naming practices name as high cardinality
// (user ids, e-mail addresses, unbounded sets), per-request identifiers,
// addresses and raw URLs. Source: https://prometheus.io/docs/practices/naming/#labels
// and https://prometheus.io/docs/practices/instrumentation/#do-not-overuse-labels.
// Each entry says what the label holds and where the value belongs.
var HighCardinalityLabels = map[string]DeniedLabel{
	"user_id":        {"a user id", fixUser},
	"userid":         {"a user id", fixUser},
	"username":       {"a user name", fixUser},
	"user_name":      {"a user name", fixUser},
	"customer_id":    {"a customer id", fixUser},
	"request_id":     {"a per-request id", fixID},
	"correlation_id": {"a per-request id", fixID},
	"session_id":     {"a per-session id", fixID},
	"trace_id":       {"a per-trace id", fixID},
	"span_id":        {"a per-span id", fixID},
	"order_id":       {"a per-order id", fixID},
	"transaction_id": {"a per-transaction id", fixID},
	"message_id":     {"a per-message id", fixID},
	"job_id":         {"a per-job id", fixID},
	"uuid":           {"a unique id", fixID},
	"guid":           {"a unique id", fixID},
	"email":          {"an e-mail address", fixEmail},
	"email_address":  {"an e-mail address", fixEmail},
	"ip":             {"an IP address", fixIP},
	"ip_address":     {"an IP address", fixIP},
	"client_ip":      {"a client's IP address", fixIP},
	"remote_ip":      {"a client's IP address", fixIP},
	"remote_addr":    {"a client's address", fixIP},
	"source_ip":      {"an IP address", fixIP},
	"src_ip":         {"an IP address", fixIP},
	"url":            {"a raw URL", fixPath},
	"uri":            {"a raw URI", fixPath},
	"path":           {"a raw URL path", fixPath},
	"url_path":       {"a raw URL path", fixPath},
	"raw_path":       {"a raw URL path", fixPath},
	"full_url":       {"a raw URL", fixPath},
	"query_string":   {"a raw query", fixPath},
}
