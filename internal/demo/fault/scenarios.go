package fault

import (
	"slices"
	"strconv"
	"time"
)

// Deploy is a new service.version rolled out by a scenario: the demo
// restarts the instance (Instance "" is every instance of Service) with
// Version as its service.version resource attribute.
type Deploy struct {
	Service  string `json:"service"`            // service.name
	Instance string `json:"instance,omitempty"` // instance number ("2"); "" is every instance
	Version  string `json:"version"`            // the new service.version
}

// Query languages of Signal.Lang.
const (
	LangPromQL  = "promql"  // Prometheus query API (/api/v1/query)
	LangLogQL   = "logql"   // Loki query API (/loki/api/v1/query_range)
	LangTraceQL = "traceql" // Tempo search API (/api/search?q=)
)

// Signal is one query that shows a scenario in Horus, and what its answer
// shows while the scenario is on.
type Signal struct {
	Lang  string `json:"lang"`  // LangPromQL, LangLogQL or LangTraceQL
	Query string `json:"query"` // the query, as typed into Grafana or the API
	Shows string `json:"shows"` // what the answer shows during the scenario
}

// Alert is an alert of the rules the demo ships (internal/demo/rules,
// docs/demo.md) that a scenario makes fire within minutes, and labels the
// firing alert has: the service or severity that say it is this scenario's.
type Alert struct {
	Name   string            `json:"name"`             // alertname
	Labels map[string]string `json:"labels,omitempty"` // a subset of the firing alert's labels
}

// Scenario is a named incident of the demo shop: a deploy and/or faults,
// what an on-call engineer should find, and the alerts that find it. Its JSON keys are the fields'
// names in snake_case; faults in Fault's JSON form.
type Scenario struct {
	// Name is the kebab-case name `horus demo scenario NAME` takes.
	Name string `json:"name"`
	// Title is a one-line summary.
	Title string `json:"title"`
	// Description is what happens, in the terms of the shop.
	Description string `json:"description"`
	// Expect is what an on-call engineer should find, in prose; Signals
	// are its exact queries.
	Expect  string   `json:"expect"`
	Signals []Signal `json:"signals"`
	// Alerts are the alerts of the demo's rules that the scenario fires
	// within minutes of being switched on.
	Alerts []Alert `json:"alerts"`
	// Deploy, if set, is rolled out before the faults are added.
	Deploy *Deploy `json:"deploy,omitempty"`
	// Faults are added in order (their IDs are "<Name>-<n>", so applying a
	// scenario twice replaces its faults rather than doubling them).
	Faults []Fault `json:"faults"`
}

// The versions scenarios deploy. The shop's services start at BaseVersion.
const (
	BaseVersion         = "1.0.0"
	BadConfigVersion    = "1.0.1" // payments-bad-config: a config-only change
	BadOrdersVersion    = "1.1.0" // orders-bad-deploy
	bankAttemptTimeout  = 2 * time.Second
	bankAttempts        = 3
	bigOrderItems       = 200
	badDeployErrorShare = 0.2
)

// The demo's alerts the scenarios fire (internal/demo/rules): the
// burn-rate pages of the SLO files (sloth_severity page) and plain rules.
const (
	AlertCheckoutAvailability = "CheckoutAvailabilitySLO"
	AlertCheckoutLatency      = "CheckoutLatencySLO"
	AlertOrdersAvailability   = "OrdersAvailabilitySLO"
	AlertErrorLogs            = "ServiceErrorLogsHigh"
	AlertBankCalls            = "BankAPICallsFailing"
	AlertLookupSlow           = "ProductsLookupSlow"
	AlertPoolSaturated        = "DatabasePoolSaturated"
)

// page is an SLO's burn-rate page alert.
func page(name string) Alert {
	return Alert{Name: name, Labels: map[string]string{"sloth_severity": "page"}}
}

// errorLogs is ServiceErrorLogsHigh for a service.
func errorLogs(service string) Alert {
	return Alert{Name: AlertErrorLogs, Labels: map[string]string{"service_name": service}}
}

// Scenarios returns the five scenarios of the demo, in their numbered order
// (1 to 5). Each call returns fresh values.
func Scenarios() []Scenario {
	s := []Scenario{
		paymentsBadConfig(),
		bankTimeouts(),
		bigOrderSlowQuery(),
		ordersBadDeploy(),
		ordersPoolExhausted(),
	}
	for _, sc := range s {
		for n := range sc.Faults {
			sc.Faults[n].ID = sc.Name + "-" + strconv.Itoa(n+1)
			if sc.Deploy != nil && sc.Faults[n].Target.Service == sc.Deploy.Service {
				sc.Faults[n].Version = sc.Deploy.Version
			}
		}
	}
	return s
}

// ScenarioByName returns the scenario called name, or numbered name ("1" to
// "5").
func ScenarioByName(name string) (Scenario, bool) {
	all := Scenarios()
	if n, err := strconv.Atoi(name); err == nil && n >= 1 && n <= len(all) {
		return all[n-1], true
	}
	at := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == name })
	if at < 0 {
		return Scenario{}, false
	}
	return all[at], true
}

func paymentsBadConfig() Scenario {
	return Scenario{
		Name:  "payments-bad-config",
		Title: "A config change at one payments instance: it refuses connections and burns CPU",
		Description: "Payments instance 2 is redeployed as version " + BadConfigVersion + " with a bad configuration. " +
			"It stops accepting connections (its listener is closed, so callers get ECONNREFUSED) and a runaway " +
			"loop keeps one core busy. The gateway balances payments calls over the three instances on the " +
			"client side, so about a third of checkouts fail with a 5xx.",
		Expect: "502s on the gateway's checkout route (/api/orders, which calls payments), about a third of its " +
			"requests; in the gateway's logs, \"connection refused\" errors all for peer_instance payments-2, each " +
			"with the trace_id of a failing trace, whose payments client span has no server span under it; " +
			"payments-2's CPU far above the others' (a full core, 100%, when the machine has one to spare); " +
			"target_info shows payments-2 on version " + BadConfigVersion + " since the change.",
		Signals: []Signal{
			{LangPromQL, `sum by (route, status) (rate(http_requests_total{job="api-gateway", status=~"5.."}[1m]))`,
				`route="/api/orders" (the checkout, which calls payments) answering 502, about a third of its rate`},
			{LangPromQL, `rate(process_cpu_seconds_total{job="payments"}[1m])`,
				`instance="payments-2" far above the other two: 1 (a full core) on a machine with a core to spare`},
			{LangPromQL, `count by (instance, service_version) (target_info{job="payments"})`,
				`payments-2 on ` + BadConfigVersion + `, payments-1 and payments-3 on ` + BaseVersion},
			{LangLogQL, `{service_name="api-gateway"} |= "connection refused"`,
				`error lines "... connect: connection refused" with peer_instance="payments-2" and a trace_id`},
			{LangLogQL, `sum by (peer_instance) (count_over_time({service_name="api-gateway"} |= "connection refused" | peer_instance!="" [5m]))`,
				`one series, peer_instance="payments-2" (the lines of the failed calls; the checkout's own "request failed" lines have no peer)`},
			{LangTraceQL, `{resource.service.name="api-gateway" && span.peer.service="payments" && status=error}`,
				"the failing checkouts: the gateway's client span to payments in error, with no payments span under it"},
		},
		Alerts: []Alert{page(AlertCheckoutAvailability), errorLogs("api-gateway")},
		Deploy: &Deploy{Service: "payments", Instance: "2", Version: BadConfigVersion},
		Faults: []Fault{
			{Kind: KindRefuse, Target: Target{Service: "payments", Instance: "2"}},
			{Kind: KindCPUBurn, Target: Target{Service: "payments", Instance: "2"}, CPU: 1},
		},
	}
}

func bankTimeouts() Scenario {
	return Scenario{
		Name:  "bank-timeouts",
		Title: "bank-api times out after a long wait: retries recover most payments, some fail",
		Description: "The external bank-api answers 30% of calls only after a long wait (median 10 s, p99 30 s). " +
			"Payments gives each attempt " + bankAttemptTimeout.String() + " and tries " + strconv.Itoa(bankAttempts) +
			" times, so most payments succeed on a retry and about 0.3³ ≈ 3% fail after the last attempt; " +
			"checkouts that retried take seconds longer.",
		Expect: "payments' p99 latency to bank-api pinned at the " + bankAttemptTimeout.String() + " attempt timeout; " +
			"payments logs \"timeout calling bank-api\" and \"attempt 2 of 3\" / \"attempt 3 of 3\"; a few percent " +
			"of orders failed (orders_created_total{status=\"failed\"}); traces with two or three bank-api client " +
			"spans, the first ones in error after " + bankAttemptTimeout.String() + ". bank-api itself sends no telemetry: " +
			"it is seen only through payments' client spans (a virtual node in the service graph).",
		Signals: []Signal{
			{LangPromQL, `histogram_quantile(0.99, sum by (le) (rate(http_client_request_duration_seconds_bucket{job="payments", peer="bank-api"}[5m])))`,
				"about " + bankAttemptTimeout.String() + ", the attempt timeout (tens of ms before)"},
			{LangPromQL, `sum by (status) (rate(orders_created_total[5m]))`,
				`status="failed" a few percent of the total`},
			{LangLogQL, `{service_name="payments"} |= "timeout calling bank-api"`,
				`one line per timed-out attempt, peer="bank-api", with trace_id`},
			{LangLogQL, `{service_name="payments"} |= "attempt" |= "of 3"`,
				`"attempt 2 of 3" lines (and fewer "attempt 3 of 3"): the retries`},
			{LangTraceQL, `{resource.service.name="payments" && span.peer.service="bank-api" && status=error}`,
				"client spans to bank-api that ended in error at the " + bankAttemptTimeout.String() + " timeout"},
			{LangTraceQL, `{span.peer.service="bank-api"} | count() > 1`,
				"traces whose payment needed retries (two or three bank-api calls)"},
		},
		Alerts: []Alert{page(AlertCheckoutLatency), {Name: AlertBankCalls, Labels: map[string]string{"peer_service": "bank-api"}}},
		Faults: []Fault{
			{Kind: KindLatency, Target: Target{Service: "bank-api"}, Scope: Scope{Fraction: 0.3},
				Latency: Latency{Median: 10 * time.Second, P99: 30 * time.Second}},
		},
	}
}

func bigOrderSlowQuery() Scenario {
	return Scenario{
		Name:  "big-order-slow-query",
		Title: "An order with hundreds of items makes the products query slow",
		Description: "For orders of " + strconv.Itoa(bigOrderItems) + " items or more, products runs a catalogue query " +
			"that no index serves and that returns every price tier of every item (six rows an item) instead of one " +
			"row per item. The load generator places such orders rarely (the heavy tail of order sizes), so the " +
			"median is untouched and the slowness shows only in the tail.",
		Expect: "now and then a products lookup takes seconds and returns thousands of rows " +
			"(db.response.returned_rows on the lookup span, the histogram db_client_response_returned_rows, " +
			"whose exemplars point at the traces), while products' p99 holds: about one order in a thousand has " +
			strconv.Itoa(bigOrderItems) + "+ items. The slow traces are all such orders (order.item_count on the " +
			"orders span, item_count in the \"order created\" log line).",
		Signals: []Signal{
			{LangPromQL, `sum(increase(http_request_duration_seconds_count{job="products"}[15m])) - sum(increase(http_request_duration_seconds_bucket{job="products", le="0.5"}[15m]))`,
				`lookups slower than 0.5 s in the last 15 minutes: 0 before, about one per big order after`},
			{LangPromQL, `sum(increase(db_client_response_returned_rows_count{job="products"}[15m])) - sum(increase(db_client_response_returned_rows_bucket{job="products", le="1000.0"}[15m]))`,
				"queries that returned more than 1000 rows: 0 before (one row an item, 400 items at most), one per big order after"},
			{LangTraceQL, `{resource.service.name="products" && span.db.response.returned_rows > 1000}`,
				"the slow query spans"},
			{LangTraceQL, `{resource.service.name="orders" && span.order.item_count >= ` + strconv.Itoa(bigOrderItems) + `} >> {span.db.response.returned_rows > 1000}`,
				"the same traces from the order's side: every slow query sits under a big order"},
			{LangLogQL, `{service_name="orders"} |= "order created" | item_count >= ` + strconv.Itoa(bigOrderItems),
				"the big orders, with order_id, tenant_id and the trace_id of their slow trace"},
		},
		Alerts: []Alert{{Name: AlertLookupSlow}},
		Faults: []Fault{
			{Kind: KindSlowQuery, Target: Target{Service: "products"}, Scope: Scope{MinItems: bigOrderItems}},
		},
	}
}

func ordersBadDeploy() Scenario {
	const msg = `pricing rules: missing key "discount_tiers"`
	return Scenario{
		Name:  "orders-bad-deploy",
		Title: "A bad deploy of orders raises its error rate",
		Description: "Orders is redeployed as version " + BadOrdersVersion + " on every instance. The new version " +
			"fails " + strconv.Itoa(int(badDeployErrorShare*100)) + "% of requests with a 500 (" + msg + ").",
		Expect: "orders' error ratio steps from about 0 to about " + strconv.FormatFloat(badDeployErrorShare, 'g', -1, 64) +
			" at the deploy's time, which target_info (service_version " + BadOrdersVersion + ") and the change " +
			"event mark; the errors are all on version " + BadOrdersVersion + " and log \"" + msg + "\". Rolling " +
			"back (horus demo scenario off: the fault removed, " + BaseVersion + " deployed again) ends them.",
		Signals: []Signal{
			{LangPromQL, `sum(rate(http_requests_total{job="orders", status=~"5.."}[1m])) / sum(rate(http_requests_total{job="orders"}[1m]))`,
				"the error ratio, about " + strconv.FormatFloat(badDeployErrorShare, 'g', -1, 64) + " from the deploy on"},
			{LangPromQL, `count by (service_version) (target_info{job="orders"})`,
				"service_version " + BadOrdersVersion + " since the deploy"},
			{LangLogQL, `{service_name="orders"} |= "discount_tiers"`,
				"error lines with the 500's message and trace_id"},
			{LangTraceQL, `{resource.service.name="orders" && resource.service.version="` + BadOrdersVersion + `" && status=error}`,
				"the failing requests, all on the new version"},
		},
		Alerts: []Alert{page(AlertOrdersAvailability), page(AlertCheckoutAvailability), errorLogs("orders")},
		Deploy: &Deploy{Service: "orders", Version: BadOrdersVersion},
		Faults: []Fault{
			{Kind: KindError, Target: Target{Service: "orders"}, Scope: Scope{Fraction: badDeployErrorShare},
				Status: 500, Message: msg},
		},
	}
}

func ordersPoolExhausted() Scenario {
	return Scenario{
		Name:  "orders-pool-exhausted",
		Title: "The database pool of orders is exhausted: waits, then timeouts",
		Description: "A leak holds every connection of orders' database pool. Each request that needs the " +
			"database waits for a connection until its wait times out (2 s), then fails with a 503.",
		Expect: "orders' pool at its limit (in-use connections equal to the maximum, none idle), the wait count " +
			"and wait time climbing; orders' latency at the wait timeout and its 5xx rising; orders logs \"timed out " +
			"waiting for a database connection\"; slow error traces whose database span never starts.",
		Signals: []Signal{
			{LangPromQL, `go_sql_in_use_connections{job="orders"} == go_sql_max_open_connections{job="orders"}`,
				"a result: every connection in use"},
			{LangPromQL, `rate(go_sql_wait_duration_seconds_total{job="orders"}[1m])`,
				"seconds waited per second climbing (many requests waiting at once)"},
			{LangPromQL, `sum by (status) (rate(http_requests_total{job="orders"}[1m]))`,
				"5xx rising as waits time out"},
			{LangLogQL, `{service_name="orders"} |= "timed out waiting for a database connection"`,
				"one error line per timed-out request, with trace_id"},
			{LangTraceQL, `{resource.service.name="orders" && status=error && duration > 1s}`,
				"the requests that waited out their deadline"},
		},
		Alerts: []Alert{{Name: AlertPoolSaturated, Labels: map[string]string{"job": "orders", "db_name": "shop_orders"}},
			page(AlertOrdersAvailability), page(AlertCheckoutAvailability), errorLogs("orders")},
		Faults: []Fault{
			{Kind: KindPoolExhaustion, Target: Target{Service: "orders"}},
		},
	}
}
