package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/horus-obs/horus/internal/demo/fault"
	"github.com/horus-obs/horus/internal/demo/load"
	"github.com/horus-obs/horus/internal/demo/shop"
)

// The control API, JSON in and out, on Options.ControlAddr:
//
//	GET    /api/demo                    Summary: addresses, first trace, active scenario, load
//	GET    /api/demo/services           []InstanceStatus
//	GET    /api/demo/faults             []FaultStatus: the faults in force, from the processes
//	POST   /api/demo/faults             add a fault: a JSON fault (fault.Fault's form) or
//	                                    {"spec": "<spec>"}; 201 FaultStatus
//	DELETE /api/demo/faults/{id}        204; 404 when no process has it
//	DELETE /api/demo/faults             204, every fault removed
//	GET    /api/demo/scenarios          []ScenarioStatus
//	POST   /api/demo/scenarios/{name}   switch a scenario on (name or number); 200 ScenarioStatus
//	DELETE /api/demo/scenarios          switch the active scenario off; 204
//	POST   /api/demo/deploy             DeployRequest (faults as JSON faults); 200 DeployResult
//	GET    /api/demo/load               load.Stats
//	POST   /api/demo/load               {"rate": checkouts per second at peak}; 200 load.Stats
//	POST   /api/demo/checkout           {"items", "payment_method", "tenant"} (each optional): one
//	                                    checkout through the gateway now; 200 load.Result (its trace_id)
//	GET    /api/demo/changes            []ChangeEvent: deploys, scenarios, faults, oldest first
//
// Every POST is JSON (Content-Type: application/json; {} where nothing is
// sent), and the Host must be localhost or a loopback address, so that a
// web page cannot drive the API. Errors are {"error": "..."} with 400 (a
// bad request), 403 (another Host), 404, 405, 413, 415 (not JSON), or 502
// when a service process did not take a change (the answer then has
// "error" and "result": what was done).

// Summary is GET /api/demo.
type Summary struct {
	Horus      string `json:"horus"`       // Horus' HTTP base URL
	Gateway    string `json:"gateway"`     // the shop's public API base URL
	Control    string `json:"control"`     // this API's base URL
	Dir        string `json:"dir"`         // the demo's directory
	FirstTrace string `json:"first_trace"` // the trace of the checkout made at start
	Scenario   string `json:"scenario"`    // the active scenario, "" none
	Load       any    `json:"load"`        // load.Stats
}

// maxControlBody bounds a control API request body.
const maxControlBody = 1 << 20

// startControl serves the control API on the listener bindAll bound.
func (d *Demo) startControl() {
	d.control = &http.Server{Handler: d.controlHandler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = d.control.Serve(d.controlLn) }()
}

func (d *Demo) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/demo", func(w http.ResponseWriter, _ *http.Request) {
		a := d.Addrs()
		d.faults.mu.Lock()
		sc := d.faults.scenario
		d.faults.mu.Unlock()
		writeControlJSON(w, http.StatusOK, Summary{Horus: "http://" + a.Horus, Gateway: "http://" + a.Gateway,
			Control: "http://" + a.Control, Dir: d.dir, FirstTrace: d.firstTrace, Scenario: sc, Load: d.gen.Stats()})
	})
	mux.HandleFunc("GET /api/demo/services", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, d.Instances())
	})
	mux.HandleFunc("GET /api/demo/faults", func(w http.ResponseWriter, r *http.Request) {
		fs, err := d.Faults(r.Context())
		if fs == nil {
			fs = []FaultStatus{}
		}
		answer(w, http.StatusOK, fs, err)
	})
	mux.HandleFunc("POST /api/demo/faults", func(w http.ResponseWriter, r *http.Request) {
		f, status, err := fault.ReadFault(w, r)
		if err != nil {
			writeControlError(w, status, err)
			return
		}
		if _, err := d.selected(f); err != nil {
			writeControlError(w, http.StatusBadRequest, err)
			return
		}
		st, err := d.AddFault(r.Context(), f)
		answer(w, http.StatusCreated, st, err)
	})
	mux.HandleFunc("DELETE /api/demo/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		found, err := d.RemoveFault(r.Context(), r.PathValue("id"))
		switch {
		case err != nil:
			writeControlError(w, http.StatusBadGateway, err)
		case !found:
			writeControlError(w, http.StatusNotFound, fmt.Errorf("no fault %q", r.PathValue("id")))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	mux.HandleFunc("DELETE /api/demo/faults", func(w http.ResponseWriter, r *http.Request) {
		if err := d.ClearFaults(r.Context()); err != nil {
			writeControlError(w, http.StatusBadGateway, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /api/demo/scenarios", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, d.Scenarios())
	})
	mux.HandleFunc("POST /api/demo/scenarios/{name}", func(w http.ResponseWriter, r *http.Request) {
		var none struct{}
		if status, err := readControlJSON(w, r, &none); err != nil && !errors.Is(err, io.EOF) {
			writeControlError(w, status, err)
			return
		}
		if _, ok := fault.ScenarioByName(r.PathValue("name")); !ok {
			writeControlError(w, http.StatusNotFound, fmt.Errorf("no scenario %q", r.PathValue("name")))
			return
		}
		st, err := d.StartScenario(r.Context(), r.PathValue("name"))
		answer(w, http.StatusOK, st, err)
	})
	mux.HandleFunc("DELETE /api/demo/scenarios", func(w http.ResponseWriter, r *http.Request) {
		if err := d.StopScenario(r.Context()); err != nil {
			writeControlError(w, http.StatusBadGateway, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /api/demo/deploy", func(w http.ResponseWriter, r *http.Request) {
		var req DeployRequest
		if status, err := readControlJSON(w, r, &req); err != nil {
			writeControlError(w, status, err)
			return
		}
		if _, err := d.selected(fault.Fault{Kind: fault.KindCPUBurn, Target: fault.Target{Service: req.Service, Instance: req.Instance}}); err != nil {
			writeControlError(w, http.StatusBadRequest, err)
			return
		}
		if !versionRE.MatchString(req.Version) {
			writeControlError(w, http.StatusBadRequest, fmt.Errorf("version %q: 1 to 64 letters, digits, '.', '_', '+' or '-'", req.Version))
			return
		}
		for _, f := range req.Faults {
			if _, err := d.selected(f); err != nil {
				writeControlError(w, http.StatusBadRequest, fmt.Errorf("fault %s: %w", f, err))
				return
			}
		}
		res, err := d.Deploy(r.Context(), req)
		answer(w, http.StatusOK, res, err)
	})
	mux.HandleFunc("GET /api/demo/load", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, d.gen.Stats())
	})
	mux.HandleFunc("POST /api/demo/load", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Rate *float64 `json:"rate"`
		}
		if status, err := readControlJSON(w, r, &req); err != nil {
			writeControlError(w, status, err)
			return
		}
		if req.Rate == nil || !(*req.Rate >= 0) || *req.Rate > maxRate {
			writeControlError(w, http.StatusBadRequest, fmt.Errorf("rate: checkouts per second at peak, 0 to %v", maxRate))
			return
		}
		d.gen.SetRate(*req.Rate)
		writeControlJSON(w, http.StatusOK, d.gen.Stats())
	})
	mux.HandleFunc("POST /api/demo/checkout", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Items         int    `json:"items"`
			PaymentMethod string `json:"payment_method"`
			Tenant        string `json:"tenant"`
		}
		if status, err := readControlJSON(w, r, &req); err != nil && !errors.Is(err, io.EOF) {
			writeControlError(w, status, err)
			return
		}
		switch {
		case req.Items < 0 || req.Items > shop.MaxOrderItems:
			writeControlError(w, http.StatusBadRequest, fmt.Errorf("items: 1 to %d (0: drawn as the load draws it)", shop.MaxOrderItems))
			return
		case req.PaymentMethod != "" && !slices.Contains(shop.PaymentMethods, req.PaymentMethod):
			writeControlError(w, http.StatusBadRequest, fmt.Errorf("payment_method: one of %s", strings.Join(shop.PaymentMethods, ", ")))
			return
		case req.Tenant != "" && !slices.Contains(load.Tenants, req.Tenant):
			writeControlError(w, http.StatusBadRequest, fmt.Errorf("tenant: one of %s", strings.Join(load.Tenants, ", ")))
			return
		}
		res := d.gen.Checkout(r.Context(), load.CheckoutOptions{Items: req.Items, PaymentMethod: req.PaymentMethod, Tenant: req.Tenant})
		d.gen.Record(res)
		writeControlJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("GET /api/demo/changes", func(w http.ResponseWriter, _ *http.Request) {
		ch := d.Changes()
		if ch == nil {
			ch = []ChangeEvent{}
		}
		writeControlJSON(w, http.StatusOK, ch)
	})
	return localOnly(mux)
}

// localOnly refuses requests whose Host is not a loopback name or
// address (a web page whose host name was rebound to 127.0.0.1), and POST
// requests that are not JSON: a web page can POST a form or text to any
// address without asking (a "simple" request), but not JSON.
func localOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if ip := net.ParseIP(strings.Trim(host, "[]")); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			writeControlError(w, http.StatusForbidden, fmt.Errorf("host %q: the control API answers requests to localhost or a loopback address", r.Host))
			return
		}
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Method == http.MethodPost && ct != "application/json" {
			writeControlError(w, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: send application/json", ct))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// maxRate bounds the load's peak rate, checkouts per second.
const maxRate = 1000

// answer writes v with status, or, when err is set (a process did not
// take the change), a 502 whose body has the error and v.
func answer(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		writeControlJSON(w, http.StatusBadGateway, map[string]any{"error": err.Error(), "result": v})
		return
	}
	writeControlJSON(w, status, v)
}

func readControlJSON(w http.ResponseWriter, r *http.Request, v any) (int, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		return http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: send application/json", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxControlBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return http.StatusRequestEntityTooLarge, err
		}
		return http.StatusBadRequest, fmt.Errorf("body: %w", err)
	}
	return 0, nil
}

func writeControlJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeControlError(w http.ResponseWriter, status int, err error) {
	writeControlJSON(w, status, map[string]string{"error": err.Error()})
}
