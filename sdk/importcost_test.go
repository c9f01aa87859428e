package sdk_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportCost: an application importing the SDK builds without the
// Horus server's dependency tree. go list -deps of the example application
// (examples/shopfront, a service using every part of the SDK) must name no
// package of the Prometheus server (TSDB, PromQL, scrape), parquet, the
// OpenTelemetry Collector, or the Horus server module. gRPC client code is
// there, pulled in by OpenTelemetry's OTLP protobuf packages
// (go.opentelemetry.io/proto/otlp/collector/...), which the OTLP/HTTP
// exporters build on.
func TestImportCost(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the example's dependencies: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", "./examples/shopfront").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./examples/shopfront: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	forbidden := []string{
		"github.com/prometheus/prometheus",
		"github.com/parquet-go/",
		"go.opentelemetry.io/collector",
		"github.com/horus-obs/horus/internal",
	}
	need := map[string]bool{ // present, or the listing is not what the test thinks
		"github.com/horus-obs/horus/sdk":                                  false,
		"go.opentelemetry.io/otel/sdk/trace":                              false,
		"github.com/prometheus/client_golang/prometheus":                  false,
		"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp": false,
	}
	for _, d := range deps {
		if _, ok := need[d]; ok {
			need[d] = true
		}
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("the example application depends on %s (forbidden prefix %s)", d, f)
			}
		}
		if strings.HasPrefix(d, "github.com/horus-obs/horus/") && !strings.HasPrefix(d, "github.com/horus-obs/horus/sdk") {
			t.Errorf("the example application depends on %s, a package of the Horus server module", d)
		}
	}
	for p, ok := range need {
		if !ok {
			t.Errorf("%s missing from the example's dependencies: the listing is wrong", p)
		}
	}
	t.Logf("%d packages in the example application's build", len(deps))
}
