package config

import (
	"crypto/tls"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
)

// WebConfig is who may talk to Horus' listeners, and how.
type WebConfig struct {
	// ConfigFile is a Prometheus web configuration file
	// (https://prometheus.io/docs/prometheus/latest/configuration/https/):
	// TLS (tls_server_config), basic auth (basic_auth_users, bcrypt
	// hashes), HTTP/2 and response headers (http_server_config) and a
	// rate limit. It applies to every listener, OTLP/gRPC included, and is
	// read again on each request and TLS handshake, as Prometheus does.
	// Empty: plain HTTP, no authentication.
	ConfigFile string `yaml:"config_file"`
	// EnablePprof serves Go's profiler under /debug/pprof on http_addr
	// (behind the web config's authentication). Off by default: a profile
	// shows the command line and costs CPU to take.
	EnablePprof bool `yaml:"enable_pprof"`
	// CORS lets web pages of other origins call Horus' HTTP APIs.
	CORS CORSConfig `yaml:"cors"`
}

// CORSConfig is the cross-origin resource sharing policy of the HTTP
// listeners. The default allows no origin: ingest endpoints are writes,
// and a page a user visits must not be able to write into (or read from)
// their Horus.
type CORSConfig struct {
	// AllowedOrigins are the origins (scheme://host[:port]) whose pages may
	// call Horus. An entry may hold * wildcards, as
	// "https://*.example.com"; "*" alone allows every origin.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedHeaders are request headers allowed beyond the ones every
	// API needs (Content-Type, Content-Encoding, Authorization, Accept,
	// X-Scope-OrgID and Prometheus' remote-write headers).
	AllowedHeaders []string `yaml:"allowed_headers"`
}

// AllowsOrigin reports whether origin matches one of AllowedOrigins.
// Origins compare without regard to case.
func (c CORSConfig) AllowsOrigin(origin string) bool {
	origin = strings.ToLower(origin)
	for _, p := range c.AllowedOrigins {
		if p == "*" {
			return true
		}
		if ok, _ := path.Match(strings.ToLower(p), origin); ok {
			return true
		}
	}
	return false
}

func (c CORSConfig) validate() error {
	for _, p := range c.AllowedOrigins {
		if p == "*" {
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			return fieldErr("web.cors.allowed_origins", "%q: %v", p, err)
		}
		scheme, rest, ok := strings.Cut(p, "://")
		if !ok || scheme == "" || rest == "" || strings.ContainsAny(rest, "/?#") {
			return fieldErr("web.cors.allowed_origins", "%q is not an origin such as https://grafana.example.com (scheme://host[:port], no path)", p)
		}
	}
	for _, h := range c.AllowedHeaders {
		if h == "" || strings.ContainsAny(h, " ,:\t") {
			return fieldErr("web.cors.allowed_headers", "%q is not a header name", h)
		}
	}
	return nil
}

// WebFile is what Horus reads of a web configuration file itself, beyond
// what exporter-toolkit does with it when serving.
type WebFile struct {
	// Authenticates is true when every request must prove who sends it:
	// basic_auth_users is not empty, or client certificates are required
	// and verified.
	Authenticates bool
	// TLS is true when tls_server_config is set.
	TLS bool
	// HTTP2 is http_server_config.http2 (true unless turned off).
	HTTP2 bool
}

// ReadWebFile validates the web configuration file at path as
// exporter-toolkit does (bcrypt hashes, certificates and keys) and says
// what it turns on.
func ReadWebFile(path string) (WebFile, error) {
	if err := web.Validate(path); err != nil {
		return WebFile{}, err
	}
	c, err := ParseWebFile(path)
	if err != nil {
		return WebFile{}, err
	}
	mtls := c.TLSConfig.ClientAuth == "RequireAndVerifyClientCert"
	return WebFile{Authenticates: len(c.Users) > 0 || mtls, TLS: c.TLSConfig.IsEnabled(), HTTP2: c.HTTPConfig.HTTP2}, nil
}

// ParseWebFile reads the web configuration file at path as exporter-toolkit
// reads it when serving (which it does not export): its defaults, strict
// YAML, and file paths relative to the file. It does not load the
// certificates; web.ConfigToTLSConfig does.
func ParseWebFile(path string) (*web.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := &web.Config{
		TLSConfig:  web.TLSConfig{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13},
		HTTPConfig: web.HTTPConfig{HTTP2: true},
	}
	if err := yaml.UnmarshalStrict(b, c); err != nil {
		return nil, err
	}
	c.TLSConfig.SetDirectory(filepath.Dir(path))
	return c, nil
}

func (w *WebConfig) validate(otlpGRPC bool) []error {
	var errs []error
	if w.ConfigFile != "" {
		f, err := ReadWebFile(w.ConfigFile)
		switch {
		case err != nil:
			errs = append(errs, fieldErr("web.config_file", "%s: %v", w.ConfigFile, err))
		case otlpGRPC && f.TLS && !f.HTTP2:
			errs = append(errs, fieldErr("web.config_file", "%s: http_server_config.http2 is false, but OTLP/gRPC (otlp.grpc_addr) needs HTTP/2 over TLS; turn it back on or disable OTLP/gRPC", w.ConfigFile))
		}
	}
	if err := w.CORS.validate(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// resolve makes a relative ConfigFile relative to dir, the directory of
// the Horus configuration file that named it.
func (w *WebConfig) resolve(dir string) {
	if dir != "" && w.ConfigFile != "" && !filepath.IsAbs(w.ConfigFile) {
		w.ConfigFile = filepath.Join(dir, w.ConfigFile)
	}
}
