package alertmanager

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/targetgroup"
)

// Prefix is where the Alertmanager is served on Horus' HTTP address: its
// API v2 at Prefix+"/api/v2/" (amtool --alertmanager.url=<horus>/alertmanager;
// Grafana's Alertmanager data source with the URL <horus>/alertmanager).
const Prefix = "/alertmanager"

// InProcessHost is the address of the Alertmanager in
// alerting.alertmanagers' terms: a name that no network resolves (.invalid,
// RFC 2606), which Do answers in process.
const InProcessHost = "horus-embedded.invalid"

// Handler serves Prefix+"/api/v2/..." (Alertmanager's API v2 as it is),
// Prefix+"/-/healthy" and Prefix+"/-/ready". Mount it at Prefix+"/".
func (am *Alertmanager) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, Prefix)
		switch {
		case strings.HasPrefix(path, "/api/v2/"):
			am.serveAPI(w, r)
		case path == "/-/healthy" || path == "/-/ready":
			fmt.Fprintln(w, "OK")
		case strings.HasPrefix(path, "/api/v1/"):
			// As Alertmanager answers since v0.27.
			http.Error(w, "Alertmanager's API v1 was removed; use "+Prefix+"/api/v2/", http.StatusGone)
		default:
			http.Error(w, "Alertmanager inside Horus: the API v2 is at "+Prefix+"/api/v2/ (e.g. "+Prefix+"/api/v2/alerts); there is no web UI", http.StatusNotFound)
		}
	})
}

// serveAPI hands a request to the API v2 under Prefix. A change to
// silences (POST /silences, DELETE /silence/{id}) is written to disk
// before it is answered: an acknowledged silence survives a crash.
func (am *Alertmanager) serveAPI(w http.ResponseWriter, r *http.Request) {
	r2 := r.Clone(r.Context())
	r2.URL.Path = strings.TrimPrefix(r.URL.Path, Prefix)
	r2.URL.RawPath = ""
	if r.Method == http.MethodGet || r.Method == http.MethodHead || !strings.HasPrefix(r2.URL.Path, "/api/v2/silence") {
		am.api.Handler.ServeHTTP(w, r2)
		return
	}
	rec := newRecorder()
	am.api.Handler.ServeHTTP(rec, r2)
	if rec.status()/100 == 2 {
		if err := am.snapshotSilences(); err != nil {
			am.logger.Error("silence changed but not written to disk; it is written again at the next maintenance", "err", err)
			http.Error(w, "silence changed but not written to disk: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	rec.copyTo(w)
}

// Do is the Prometheus notifier's request function (notifier.Options.Do):
// a request to InProcessHost is served by this Alertmanager's API in
// process, with no network, listener or credentials; any other goes out
// through the client, as the notifier's own function sends it.
func (am *Alertmanager) Do(ctx context.Context, client *http.Client, req *http.Request) (*http.Response, error) {
	if req.URL.Hostname() != InProcessHost {
		return client.Do(req.WithContext(ctx))
	}
	return am.RoundTrip(req.WithContext(ctx))
}

// RoundTrip serves a request to the API in process (an
// http.RoundTripper: any request, whatever its host, is answered here).
func (am *Alertmanager) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := newRecorder()
	am.Handler().ServeHTTP(rec, req)
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return rec.response(req), nil
}

// AlertmanagerConfig is the entry of alerting.alertmanagers that sends
// alerts to this Alertmanager through Do: API v2 at InProcessHost under
// Prefix.
func AlertmanagerConfig() *promconfig.AlertmanagerConfig {
	c := promconfig.DefaultAlertmanagerConfig
	c.HTTPClientConfig = commoncfg.DefaultHTTPClientConfig
	c.Scheme = "http"
	c.PathPrefix = Prefix
	c.APIVersion = promconfig.AlertmanagerAPIVersionV2
	c.Timeout = model.Duration(10 * time.Second)
	c.ServiceDiscoveryConfigs = discovery.Configs{discovery.StaticConfig{{
		Targets: []model.LabelSet{{model.AddressLabel: InProcessHost}},
		Source:  "horus-embedded",
	}}}
	return &c
}

// WithInProcess returns a copy of pc whose alerting.alertmanagers has
// AlertmanagerConfig last, for the notifier's ApplyConfig; pc is not
// changed.
func WithInProcess(pc *promconfig.Config) *promconfig.Config {
	c := *pc
	c.AlertingConfig.AlertmanagerConfigs = append(append(promconfig.AlertmanagerConfigs(nil), pc.AlertingConfig.AlertmanagerConfigs...), AlertmanagerConfig())
	return &c
}

// InProcessTargets are the target groups of AlertmanagerConfig, for a
// caller that feeds the notifier's target groups itself.
func InProcessTargets() []*targetgroup.Group {
	return []*targetgroup.Group(AlertmanagerConfig().ServiceDiscoveryConfigs[0].(discovery.StaticConfig))
}

// recorder holds a response in memory.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

func (r *recorder) copyTo(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.status())
	_, _ = w.Write(r.body.Bytes())
}

func (r *recorder) response(req *http.Request) *http.Response {
	code := r.status()
	return &http.Response{
		Status:        strconv.Itoa(code) + " " + http.StatusText(code),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        r.header,
		Body:          io.NopCloser(bytes.NewReader(r.body.Bytes())),
		ContentLength: int64(r.body.Len()),
		Request:       req,
	}
}
