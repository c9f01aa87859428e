package slo

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/horus-obs/horus/internal/api/promeval"
	"github.com/horus-obs/horus/internal/tenant"
)

// Status is an SLO's state at a time, read with PromQL from the series
// its rules record (docs/slo.md, "The API"). Ratios are 0 to 1; a value
// that cannot be known (no events, no recorded series yet) is null.
type Status struct {
	ID          string  `json:"id"`
	Service     string  `json:"service"`
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Spec        string  `json:"spec"`
	File        string  `json:"file,omitempty"`
	Objective   float64 `json:"objective"` // percent (99.9)
	Window      string  `json:"window"`    // "30d"
	// Time is when the state is of.
	Time time.Time `json:"time"`
	// SLI is the share of good events over the window: 1 - ErrorRatio.
	SLI *float64 `json:"sli"`
	// ErrorRatio is the share of bad events over the window
	// (slo:sli_error:ratio_rate30d).
	ErrorRatio  *float64 `json:"errorRatio"`
	ErrorBudget Budget   `json:"errorBudget"`
	// BurnRates are the error ratio and burn rate over each alert window
	// and the SLO's window, shortest first.
	BurnRates []WindowBurn `json:"burnRates"`
	// Alerts are the SLO's page and ticket alerts (those not disabled).
	Alerts []AlertStatus `json:"alerts"`
}

// Budget is the error budget over the SLO's window.
type Budget struct {
	// Ratio is the budget: 1 - objective (0.001 for 99.9%).
	Ratio float64 `json:"ratio"`
	// Remaining is the share of the budget left: 1 - error ratio /
	// budget; below 0 when overspent. RemainingPercent is it × 100.
	Remaining        *float64 `json:"remaining"`
	RemainingPercent *float64 `json:"remainingPercent"`
	// CurrentBurnRate is the burn rate over 5m (slo:current_burn_rate:ratio).
	CurrentBurnRate *float64 `json:"currentBurnRate"`
	// ExhaustedInSeconds is how long the remaining budget lasts at the
	// current burn rate: Remaining × window / CurrentBurnRate; 0 when it
	// is spent, null when nothing burns. ExhaustedIn is the same as a
	// Prometheus duration ("2d3h").
	ExhaustedInSeconds *float64 `json:"exhaustedInSeconds"`
	ExhaustedIn        string   `json:"exhaustedIn,omitempty"`
}

// WindowBurn is the error ratio and burn rate (error ratio / budget)
// over one window.
type WindowBurn struct {
	Window     string   `json:"window"`
	ErrorRatio *float64 `json:"errorRatio"`
	BurnRate   *float64 `json:"burnRate"`
}

// AlertStatus is one alert of an SLO.
type AlertStatus struct {
	Name string `json:"name"`
	// Type is page or ticket (the sloth_severity label); Severity the
	// severity label.
	Type     string `json:"type"`
	Severity string `json:"severity"`
	// State is the rules manager's: firing, pending or inactive (its
	// ALERTS series at the time).
	State string `json:"state"`
	// Burning: one of the conditions holds at the time.
	Burning    bool              `json:"burning"`
	Conditions []ConditionStatus `json:"conditions"`
}

// ConditionStatus is one burn-rate condition of an alert.
type ConditionStatus struct {
	Short string `json:"shortWindow"`
	Long  string `json:"longWindow"`
	// Factor is the burn rate above which it fires; Threshold the error
	// ratio that is (factor × budget).
	Factor    float64 `json:"factor"`
	Threshold float64 `json:"threshold"`
	// Met: the condition (both windows, and the low-traffic guard) holds.
	Met bool `json:"met"`
}

// API serves GET /api/v1/slos and GET /api/v1/slos/{id}.
type API struct {
	set     *Set
	engine  promql.QueryEngine
	q       storage.Queryable
	timeout time.Duration
}

// NewAPI returns the API over set, reading the recorded series with
// engine from q (a queryable of the tenant of the context, as
// metrics.Tenancy; the tenant is the request's X-Scope-OrgID).
func NewAPI(set *Set, engine promql.QueryEngine, q storage.Queryable, timeout time.Duration) *API {
	return &API{set: set, engine: engine, q: q, timeout: timeout}
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/slos", a.list)
	mux.HandleFunc("GET /api/v1/slos/{id}", a.one)
}

type response struct {
	Status    string `json:"status"`
	Data      any    `json:"data,omitempty"`
	ErrorType string `json:"errorType,omitempty"`
	Error     string `json:"error,omitempty"`
}

func write(w http.ResponseWriter, code int, r response) { promeval.WriteJSON(w, code, r) }

// request reads the tenant and the time (?time=, Unix seconds or RFC
// 3339; now by default) of a request.
func (a *API) request(w http.ResponseWriter, r *http.Request) (context.Context, context.CancelFunc, time.Time, bool) {
	org, err := tenant.FromHeader(r.Header.Get(tenant.Header))
	if err != nil {
		write(w, http.StatusBadRequest, response{Status: "error", ErrorType: "bad_data", Error: tenant.Header + " header: " + err.Error()})
		return nil, nil, time.Time{}, false
	}
	at, err := promeval.ParseTime(r.FormValue("time"), time.Now())
	if err != nil {
		write(w, http.StatusBadRequest, response{Status: "error", ErrorType: "bad_data", Error: "invalid parameter \"time\": " + err.Error()})
		return nil, nil, time.Time{}, false
	}
	ctx, cancel := context.WithTimeout(tenant.WithContext(r.Context(), org), a.timeout)
	return ctx, cancel, at, true
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	ctx, cancel, at, ok := a.request(w, r)
	if !ok {
		return
	}
	defer cancel()
	slos := slices.Clone(a.set.SLOs())
	slices.SortFunc(slos, func(x, y SLO) int { return strings.Compare(x.ID, y.ID) })
	out := make([]Status, 0, len(slos))
	for _, s := range slos {
		st, err := a.Status(ctx, s, at)
		if err != nil {
			write(w, http.StatusInternalServerError, response{Status: "error", ErrorType: "execution", Error: err.Error()})
			return
		}
		out = append(out, st)
	}
	write(w, http.StatusOK, response{Status: "success", Data: out})
}

func (a *API) one(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s, found := a.set.Get(id)
	if !found {
		write(w, http.StatusNotFound, response{Status: "error", ErrorType: "not_found", Error: fmt.Sprintf("no SLO %q (SLOs are named by sloth_id: <service>-<name>)", id)})
		return
	}
	ctx, cancel, at, ok := a.request(w, r)
	if !ok {
		return
	}
	defer cancel()
	st, err := a.Status(ctx, s, at)
	if err != nil {
		write(w, http.StatusInternalServerError, response{Status: "error", ErrorType: "execution", Error: err.Error()})
		return
	}
	write(w, http.StatusOK, response{Status: "success", Data: st})
}

// Status reads the state of s at at from its recorded series, as the
// tenant of ctx.
func (a *API) Status(ctx context.Context, s SLO, at time.Time) (Status, error) {
	budget := s.budget()
	period := promDuration(s.Window)
	st := Status{
		ID: s.ID, Service: s.Service, Name: s.Name, Description: s.Description, Spec: s.Spec, File: s.File,
		Objective: s.Objective, Window: period, Time: at.UTC(),
		ErrorBudget: Budget{Ratio: budget},
		BurnRates:   []WindowBurn{},
		Alerts:      []AlertStatus{},
	}
	// The worst series of each window, when the SLI has several.
	ratios, err := a.query(ctx, fmt.Sprintf(`max by (%s) ({__name__=~"%s.+", %s=%q})`, labelWindow, MetricErrorRatio, labelID, s.ID), at, labelWindow)
	if err != nil {
		return st, err
	}
	for _, w := range append(slices.Clone(AlertWindows), s.Window) {
		wb := WindowBurn{Window: promDuration(w)}
		if r, ok := ratios[wb.Window]; ok {
			wb.ErrorRatio, wb.BurnRate = num(r), num(r/budget)
		}
		st.BurnRates = append(st.BurnRates, wb)
	}
	if r, ok := ratios[period]; ok && !math.IsNaN(r) {
		st.ErrorRatio, st.SLI = num(r), num(1-r)
		remaining := 1 - r/budget
		st.ErrorBudget.Remaining, st.ErrorBudget.RemainingPercent = num(remaining), num(remaining*100)
	}
	if r, ok := ratios[promDuration(AlertWindows[0])]; ok && !math.IsNaN(r) {
		burn := r / budget
		st.ErrorBudget.CurrentBurnRate = num(burn)
		if rem := st.ErrorBudget.Remaining; rem != nil {
			switch {
			case *rem <= 0:
				st.ErrorBudget.ExhaustedInSeconds, st.ErrorBudget.ExhaustedIn = num(0), "0s"
			case burn > 0:
				d := time.Duration(*rem * float64(s.Window) / burn)
				st.ErrorBudget.ExhaustedInSeconds = num(d.Seconds())
				st.ErrorBudget.ExhaustedIn = model.Duration(d.Round(time.Minute)).String()
			}
		}
	}

	states, err := a.query(ctx, fmt.Sprintf(`ALERTS{%s=%q}`, labelID, s.ID), at, labelSeverity, "alertstate")
	if err != nil {
		return st, err
	}
	for _, x := range []struct {
		typ string
		a   Alert
	}{{SeverityPage, s.Page}, {SeverityTicket, s.Ticket}} {
		if x.a.Disable {
			continue
		}
		as := AlertStatus{Name: x.a.Name, Type: x.typ, Severity: x.a.Labels["severity"], State: "inactive"}
		if _, ok := states[x.typ+"\xff"+"pending"]; ok {
			as.State = "pending"
		}
		if _, ok := states[x.typ+"\xff"+"firing"]; ok {
			as.State = "firing"
		}
		for _, b := range conditions(x.typ) {
			factor := b.Factor(s.Window)
			met, err := a.query(ctx, strings.Join(s.conditionTerms(b), " and "), at)
			if err != nil {
				return st, err
			}
			as.Conditions = append(as.Conditions, ConditionStatus{
				Short: promDuration(b.Short), Long: promDuration(b.Long),
				Factor: factor, Threshold: roundPercent(factor * budget), Met: len(met) > 0,
			})
			as.Burning = as.Burning || len(met) > 0
		}
		st.Alerts = append(st.Alerts, as)
	}
	return st, nil
}

// query evaluates qs at ts and returns its samples by the values of the
// key labels (joined with 0xff).
func (a *API) query(ctx context.Context, qs string, ts time.Time, keys ...string) (map[string]float64, error) {
	vec, err := promeval.Instant(ctx, a.engine, a.q, qs, ts)
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(vec))
	for _, smp := range vec {
		vals := make([]string, len(keys))
		for i, k := range keys {
			vals[i] = smp.Metric.Get(k)
		}
		out[strings.Join(vals, "\xff")] = smp.F
	}
	return out, nil
}

// num is f, or nil when f is not a number JSON can carry.
func num(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}
