package config

import (
	"flag"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load("../../horus.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pc := cfg.PrometheusConfig()
	if len(pc.ScrapeConfigs) != 1 || pc.ScrapeConfigs[0].JobName != "horus" {
		t.Fatalf("scrape configs = %v", pc.ScrapeConfigs)
	}
	if got := time.Duration(pc.ScrapeConfigs[0].ScrapeTimeout); got != 10*time.Second {
		t.Errorf("scrape timeout default = %v, want 10s from Prometheus' global default", got)
	}
	if cfg.Limits.MaxRequestBodyBytes != 32<<20 {
		t.Errorf("max_request_body_bytes = %v", cfg.Limits.MaxRequestBodyBytes)
	}
}

// TestBadConfigs loads every testdata/bad_*.yaml; each must fail with an
// error naming the field (or value) at fault.
func TestBadConfigs(t *testing.T) {
	want := map[string]string{
		"bad_limits.yaml":         "limits.max_labels_per_series",
		"bad_retention.yaml":      "metrics.retention",
		"bad_events_fsync.yaml":   "events.fsync",
		"bad_events_tenant.yaml":  "events.tenants",
		"bad_http_addr.yaml":      "http_addr",
		"bad_log_level.yaml":      "log.level",
		"bad_unknown_field.yaml":  "unknown_field",
		"bad_scrape_timeout.yaml": `job name "a"`,
		"bad_duplicate_job.yaml":  `"a"`,
		"bad_query_timeout.yaml":  "query.timeout",
		"bad_retention_size.yaml": "XB",
		"bad_sampling.yaml":       "traces.sampling.probability",
		"bad_service_graph.yaml":  "traces.service_graph.wait",
		// Keys by YAML path, with the nearest known key (not Go's type names).
		"bad_typo_key.yaml":     "metrics.retension: unknown key; did you mean metrics.retention?",
		"bad_section_list.yaml": "metrics: want a mapping of keys, got a list",
		"bad_nested_typo.yaml":  "traces.span_metrics.enabeld: unknown key; did you mean traces.span_metrics.enabled?",
		"bad_alertmanager.yaml": "alertmanager.retention: must be > 0",
	}
	files, _ := filepath.Glob("testdata/bad_*.yaml")
	if len(files) != len(want) {
		t.Fatalf("%d bad configs in testdata, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := Load(f)
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), want[filepath.Base(f)]) {
				t.Errorf("error %q does not name %q", err, want[filepath.Base(f)])
			}
		})
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "h.yml")
	if err := os.WriteFile(f, []byte("data_dir: from-file\nhttp_addr: ':9999'\nmetrics:\n  retention: 1d\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fl := RegisterFlags(fs)
	if err := fs.Parse([]string{"--config", f, "--data-dir", "from-flag", "--retention-size", "1GB", "--query-timeout", "30s"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := fl.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "from-flag" || cfg.HTTPAddr != ":9999" || cfg.Metrics.Retention != model.Duration(24*time.Hour) ||
		cfg.Metrics.RetentionSize != 1<<30 || cfg.Query.Timeout != model.Duration(30*time.Second) {
		t.Errorf("got %+v", cfg)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--retention-time", "soon"},
		{"--retention-size", "big"},
		{"--query-max-samples", "many"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(new(strings.Builder))
		RegisterFlags(fs)
		if err := fs.Parse(args); err == nil || !strings.Contains(err.Error(), args[0][2:]) {
			t.Errorf("%v: error %v should name the flag", args, err)
		}
	}
}

func TestLogsRedaction(t *testing.T) {
	cfg, err := Parse([]byte(`
logs:
  redaction:
    emails: false
    rules: [{name: order, pattern: 'ord-[0-9]+', replace: 'ord-<id>'}]
  tenants:
    team-a:
      redaction: {cards: false}
    lab:
      redaction: {enabled: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r := cfg.Logs.Redaction
	if !r.Enabled || r.Emails || !r.Cards || len(r.SecretKeys) == 0 || len(r.Rules) != 1 {
		t.Errorf("logs.redaction = %+v: want the defaults but e-mails, and one rule", r)
	}
	if a := cfg.Logs.Tenants["team-a"].Redaction; !a.Enabled || a.Cards || !a.Emails || len(a.Rules) != 0 {
		t.Errorf("team-a's redaction = %+v: want the defaults but cards", a)
	}
	if red, err := cfg.Logs.Tenants["lab"].Redaction.Redactor(); red != nil || err != nil {
		t.Errorf("lab's redactor = %v, %v; want none", red, err)
	}

	cfg, err = Parse([]byte("logs:\n  redaction:\n    rules: [{name: bad, pattern: '('}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "logs.redaction: redaction rule 0") {
		t.Errorf("bad rule: Validate = %v", err)
	}
}

func TestDefaultAddressesAreLoopback(t *testing.T) {
	c := Default()
	for _, a := range []string{c.HTTPAddr, c.OTLP.GRPCAddr, c.OTLP.HTTPAddr} {
		if host, _, _ := net.SplitHostPort(a); host != "localhost" {
			t.Errorf("default address %q is not on localhost", a)
		}
	}
	if c.Web.ConfigFile != "" || c.Web.EnablePprof || len(c.Web.CORS.AllowedOrigins) != 0 {
		t.Errorf("web defaults = %+v; want no web config file, no pprof, no CORS origin", c.Web)
	}
}

// TestWebConfigFile checks web.config_file: relative to the Horus
// configuration file, validated as exporter-toolkit validates it.
func TestWebConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// bcrypt of "s3cret" at cost 4.
	write("web.yml", "basic_auth_users:\n  horus: $2a$04$1KGNAuDSWKMvwZywzP/L7OEKF5MAGGo32lRaUgRJqq.YEyMNNt1bO\n")
	cfg, err := Load(write("horus.yml", "web:\n  config_file: web.yml\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "web.yml"); cfg.Web.ConfigFile != want {
		t.Errorf("web.config_file = %q, want %q (relative to the config file)", cfg.Web.ConfigFile, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	f, err := ReadWebFile(cfg.Web.ConfigFile)
	if err != nil || !f.Authenticates || f.TLS {
		t.Errorf("ReadWebFile = %+v, %v; want basic auth, no TLS", f, err)
	}

	for name, c := range map[string]struct{ web, want string }{
		"missing file":    {"", "no such file"},
		"plain password":  {"basic_auth_users:\n  horus: s3cret\n", "hashedSecret too short"},
		"unknown field":   {"basic_auth:\n  horus: x\n", "field basic_auth not found"},
		"missing key":     {"tls_server_config:\n  cert_file: c.pem\n", "missing one of key or key_file"},
		"bad header":      {"http_server_config:\n  headers:\n    X-Foo: bar\n", "can not be configured"},
		"unknown version": {"tls_server_config:\n  min_version: TLS99\n", "unknown TLS version"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, "absent.yml")
			if c.web != "" {
				path = write(strings.ReplaceAll(name, " ", "_")+".yml", c.web)
			}
			cfg := Default()
			cfg.Web.ConfigFile = path
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), "web.config_file") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate = %v; want an error naming web.config_file and %q", err, c.want)
			}
		})
	}
}

func TestCORSConfig(t *testing.T) {
	c := CORSConfig{AllowedOrigins: []string{"https://grafana.example.com", "https://*.corp.example", "http://localhost:3000"}}
	for origin, want := range map[string]bool{
		"https://grafana.example.com": true,
		"https://GRAFANA.example.com": true,
		"http://grafana.example.com":  false,
		"https://a.corp.example":      true,
		"https://corp.example":        false,
		"http://localhost:3000":       true,
		"http://localhost:3001":       false,
		"https://evil.example":        false,
		"null":                        false,
	} {
		if got := c.AllowsOrigin(origin); got != want {
			t.Errorf("AllowsOrigin(%q) = %v, want %v", origin, got, want)
		}
	}
	if !(CORSConfig{AllowedOrigins: []string{"*"}}).AllowsOrigin("https://any.example") {
		t.Error(`"*" does not allow every origin`)
	}
	if (CORSConfig{}).AllowsOrigin("https://any.example") {
		t.Error("the default allows an origin")
	}
	for _, bad := range []CORSConfig{
		{AllowedOrigins: []string{"grafana.example.com"}},
		{AllowedOrigins: []string{"https://grafana.example.com/"}},
		{AllowedOrigins: []string{"https://[a"}},
		{AllowedHeaders: []string{"X-A, X-B"}},
	} {
		cfg := Default()
		cfg.Web.CORS = bad
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "web.cors.allowed_") {
			t.Errorf("%+v: Validate = %v; want an error naming the field", bad, err)
		}
	}
}

func TestWebFlags(t *testing.T) {
	dir := t.TempDir()
	web := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(web, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fl := RegisterFlags(fs)
	if err := fs.Parse([]string{"--web.config.file", web, "--web.enable-pprof", "--web.cors.allowed-origins", "https://a.example, https://b.example",
		"--http-addr", "0.0.0.0:3300"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := fl.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Web.ConfigFile != web || !cfg.Web.EnablePprof || strings.Join(cfg.Web.CORS.AllowedOrigins, " ") != "https://a.example https://b.example" ||
		cfg.HTTPAddr != "0.0.0.0:3300" {
		t.Errorf("got %+v, http_addr %q", cfg.Web, cfg.HTTPAddr)
	}
	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--web.enable-pprof=maybe"}); err == nil || !strings.Contains(err.Error(), "web.enable-pprof") {
		t.Errorf("bad bool: %v", err)
	}
}

// TestDataDirRelativeToFile: a relative data_dir in a config file is
// relative to the file, as its other paths are; the default is relative
// to the working directory.
func TestDataDirRelativeToFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "horus.yml")
	if err := os.WriteFile(f, []byte("data_dir: store\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "store"); cfg.DataDir != want {
		t.Errorf("data_dir = %q, want %q", cfg.DataDir, want)
	}
	if err := os.WriteFile(f, []byte("http_addr: localhost:3300\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, err = Load(f); err != nil || cfg.DataDir != "data" {
		t.Errorf("default data_dir = %q, %v; want \"data\" (the working directory's)", cfg.DataDir, err)
	}
}

// TestSLOFiles: relative slo_files patterns in a config file are relative
// to the file (as Prometheus' rule_files); a malformed glob is refused by
// name.
func TestSLOFiles(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "horus.yml")
	if err := os.WriteFile(f, []byte("slo_files: [slos/*.yml, /etc/horus/slo.yml]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "slos/*.yml"), "/etc/horus/slo.yml"}; !slices.Equal(cfg.SLOFiles, want) {
		t.Errorf("slo_files = %q, want %q", cfg.SLOFiles, want)
	}
	cfg.SLOFiles = []string{"slos/[.yml"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "slo_files") {
		t.Errorf("a malformed glob: %v, want an error naming slo_files", err)
	}
}

// TestRuleFilesAndAlerting: rule_files and alerting are Prometheus'
// sections, loaded by its loader (relative rule files against the config
// file's directory, alertmanagers' defaults filled); logql_rule_files and
// traceql_rule_files are relative the same way; a bad alerting section is
// refused naming it.
func TestRuleFilesAndAlerting(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "horus.yml")
	body := `rule_files: [rules/*.yml]
logql_rule_files: [logs/*.yml]
traceql_rule_files: [/etc/horus/traces.yml]
external_url: https://horus.example.com
global:
  evaluation_interval: 30s
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["localhost:9093"]
      timeout: 5s
`
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pc := cfg.PrometheusConfig()
	if want := []string{filepath.Join(dir, "rules/*.yml")}; !slices.Equal(pc.RuleFiles, want) || !slices.Equal(cfg.RuleFiles, want) {
		t.Errorf("rule_files = %q / %q, want %q", pc.RuleFiles, cfg.RuleFiles, want)
	}
	if want := []string{filepath.Join(dir, "logs/*.yml")}; !slices.Equal(cfg.LogQLRuleFiles, want) {
		t.Errorf("logql_rule_files = %q, want %q", cfg.LogQLRuleFiles, want)
	}
	if got := time.Duration(pc.GlobalConfig.EvaluationInterval); got != 30*time.Second {
		t.Errorf("evaluation_interval = %v", got)
	}
	ams := pc.AlertingConfig.AlertmanagerConfigs
	if len(ams) != 1 || time.Duration(ams[0].Timeout) != 5*time.Second || ams[0].APIVersion != "v2" {
		t.Errorf("alertmanagers = %+v", ams)
	}
	for _, bad := range []string{
		"alerting:\n  alertmanagers:\n    - api_version: v9\n",
		"rule_files: ['rules/[.yml']\n",
		"external_url: horus.example.com\n",
	} {
		cfg, err := Parse([]byte(bad))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
