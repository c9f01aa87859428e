package config

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"
)

// Flags are the command-line overrides of `horus serve`. A flag that is
// not given leaves the file's (or the default) value alone.
type Flags struct {
	fs         *flag.FlagSet
	ConfigFile string
	set        []func(*Config)
}

// RegisterFlags defines the override flags on fs.
func RegisterFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	fs.StringVar(&f.ConfigFile, "config", "", "path to the YAML configuration file (optional)")
	f.str("data-dir", "directory for all stored data (default \"data\")", func(c *Config, v string) { c.DataDir = v })
	f.str("http-addr", "listen address for the UI and all HTTP APIs; 0.0.0.0:3300 for every interface (default \""+DefaultHTTPAddr+"\")", func(c *Config, v string) { c.HTTPAddr = v })
	f.str("otlp-grpc-addr", "OTLP/gRPC listen address, empty to disable (default \""+DefaultOTLPGRPCAddr+"\")", func(c *Config, v string) { c.OTLP.GRPCAddr = v })
	f.str("otlp-http-addr", "OTLP/HTTP listen address, empty to disable (default \""+DefaultOTLPHTTPAddr+"\")", func(c *Config, v string) { c.OTLP.HTTPAddr = v })
	f.str("web.config.file", "Prometheus web configuration file (TLS, basic auth) for every listener, as Prometheus' --web.config.file (default none)", func(c *Config, v string) { c.Web.ConfigFile = v })
	f.boolean("web.enable-pprof", "serve Go's profiler under /debug/pprof (default false)", func(c *Config, b bool) { c.Web.EnablePprof = b })
	f.str("web.cors.allowed-origins", "comma-separated origins whose web pages may call Horus, e.g. https://grafana.example.com (default none)", func(c *Config, v string) {
		c.Web.CORS.AllowedOrigins = splitList(v)
	})
	f.str("log-level", "log level: debug, info, warn, error (default \"info\")", func(c *Config, v string) { c.Log.Level = v })
	f.str("log-format", "log format: json or text (default \"json\")", func(c *Config, v string) { c.Log.Format = v })
	f.dur("retention-time", "how long metric samples are kept, e.g. 15d (default 15d)", func(c *Config, d model.Duration) { c.Metrics.Retention = d })
	f.bytes("retention-size", "maximum bytes of metric storage, e.g. 10GB; 0 for no bound (default 0)", func(c *Config, b units.Base2Bytes) { c.Metrics.RetentionSize = b })
	f.dur("out-of-order-window", "accept samples up to this much out of order, e.g. 30m (default 0)", func(c *Config, d model.Duration) { c.Metrics.OutOfOrderWindow = d })
	f.dur("query-timeout", "maximum time one query may take (default 2m)", func(c *Config, d model.Duration) { c.Query.Timeout = d })
	f.dur("query-lookback-delta", "how far back an instant selector looks for samples (default 5m)", func(c *Config, d model.Duration) { c.Query.LookbackDelta = d })
	f.integer("query-max-samples", "maximum samples one query may load into memory (default 50000000)", func(c *Config, n int) { c.Query.MaxSamples = n })
	return f
}

func (f *Flags) later(fn func(*Config)) { f.set = append(f.set, fn) }

func (f *Flags) str(name, usage string, apply func(*Config, string)) {
	f.fs.Func(name, usage, func(s string) error {
		f.later(func(c *Config) { apply(c, s) })
		return nil
	})
}

func (f *Flags) dur(name, usage string, apply func(*Config, model.Duration)) {
	f.fs.Func(name, usage, func(s string) error {
		d, err := model.ParseDuration(s)
		if err != nil {
			// Accept Go durations such as 1h30m too.
			gd, gerr := time.ParseDuration(s)
			if gerr != nil {
				return fmt.Errorf("not a duration: %w", err)
			}
			d = model.Duration(gd)
		}
		f.later(func(c *Config) { apply(c, d) })
		return nil
	})
}

func (f *Flags) bytes(name, usage string, apply func(*Config, units.Base2Bytes)) {
	f.fs.Func(name, usage, func(s string) error {
		var b units.Base2Bytes
		if s != "0" {
			var err error
			if b, err = units.ParseBase2Bytes(s); err != nil {
				return fmt.Errorf("not a size such as 512MB or 10GB: %w", err)
			}
		}
		f.later(func(c *Config) { apply(c, b) })
		return nil
	})
}

func (f *Flags) boolean(name, usage string, apply func(*Config, bool)) {
	f.fs.BoolFunc(name, usage, func(s string) error {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not true or false: %w", err)
		}
		f.later(func(c *Config) { apply(c, b) })
		return nil
	})
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (f *Flags) integer(name, usage string, apply func(*Config, int)) {
	f.fs.Func(name, usage, func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("not an integer: %w", err)
		}
		f.later(func(c *Config) { apply(c, n) })
		return nil
	})
}

// Resolve loads the configuration file (if one was given), applies the
// flags given on the command line, and validates the result.
func (f *Flags) Resolve() (*Config, error) {
	cfg := Default()
	if f.ConfigFile != "" {
		var err error
		if cfg, err = Load(f.ConfigFile); err != nil {
			return nil, err
		}
	}
	for _, apply := range f.set {
		apply(cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}
