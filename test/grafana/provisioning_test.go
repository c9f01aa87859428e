// Package grafana tests deploy/grafana, the Grafana provisioning of Horus,
// without Grafana: it parses every data source and dashboard file strictly
// (an unknown key is an error, so a typo or a shape Grafana would ignore
// fails), checks that the links between them resolve, and runs every query
// a panel, a variable, an annotation or a data-source link makes against a
// Horus in this process filled with real telemetry, through the HTTP APIs
// Grafana calls, with Grafana's template variables interpolated as Grafana
// interpolates them (interpolate_test.go).
package grafana

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v2"
)

// deployDir is the provisioning folder a user copies.
const deployDir = "../../deploy/grafana"

// The fixed uids the files link each other by.
const (
	uidPrometheus = "horus-prometheus"
	uidLoki       = "horus-loki"
	uidTempo      = "horus-tempo"
)

// datasourcesFile is a data source provisioning file (Grafana's
// pkg/services/provisioning/datasources/types.go, configs v1), with only
// the keys deploy/grafana uses.
type datasourcesFile struct {
	APIVersion  int                `yaml:"apiVersion"`
	Datasources []datasourceConfig `yaml:"datasources"`
}

type datasourceConfig struct {
	Name      string         `yaml:"name"`
	Type      string         `yaml:"type"`
	UID       string         `yaml:"uid"`
	OrgID     int            `yaml:"orgId"`
	Access    string         `yaml:"access"`
	URL       string         `yaml:"url"`
	IsDefault bool           `yaml:"isDefault"`
	Editable  bool           `yaml:"editable"`
	JSONData  map[string]any `yaml:"jsonData"`
}

// promJSONData is the Prometheus data source's jsonData (Grafana's
// packages/grafana-prometheus/src/types.ts, PromOptions).
type promJSONData struct {
	HTTPMethod                  string                       `yaml:"httpMethod"`
	TimeInterval                string                       `yaml:"timeInterval"`
	PrometheusType              string                       `yaml:"prometheusType"`
	PrometheusVersion           string                       `yaml:"prometheusVersion"`
	CacheLevel                  string                       `yaml:"cacheLevel"`
	IncrementalQuerying         bool                         `yaml:"incrementalQuerying"`
	ExemplarTraceIDDestinations []exemplarTraceIDDestination `yaml:"exemplarTraceIdDestinations"`
}

type exemplarTraceIDDestination struct {
	Name            string `yaml:"name"`
	DatasourceUID   string `yaml:"datasourceUid"`
	URL             string `yaml:"url"`
	URLDisplayLabel string `yaml:"urlDisplayLabel"`
}

// lokiJSONData is the Loki data source's jsonData (Grafana's
// public/app/plugins/datasource/loki/types.ts, LokiOptions and
// DerivedFieldConfig).
type lokiJSONData struct {
	MaxLines      int            `yaml:"maxLines"`
	DerivedFields []derivedField `yaml:"derivedFields"`
}

type derivedField struct {
	Name            string `yaml:"name"`
	MatcherType     string `yaml:"matcherType"` // "regex" (default) or "label"
	MatcherRegex    string `yaml:"matcherRegex"`
	DatasourceUID   string `yaml:"datasourceUid"`
	URL             string `yaml:"url"`
	URLDisplayLabel string `yaml:"urlDisplayLabel"`
}

// tempoJSONData is the Tempo data source's jsonData (Grafana's
// public/app/plugins/datasource/tempo/configuration and
// @grafana/o11y-ds-frontend's TraceToLogsOptionsV2, TraceToMetricsOptions).
type tempoJSONData struct {
	StreamingEnabled struct {
		Search  bool `yaml:"search"`
		Metrics bool `yaml:"metrics"`
	} `yaml:"streamingEnabled"`
	TracesToLogsV2 struct {
		DatasourceUID      string     `yaml:"datasourceUid"`
		SpanStartTimeShift string     `yaml:"spanStartTimeShift"`
		SpanEndTimeShift   string     `yaml:"spanEndTimeShift"`
		Tags               []tagToUse `yaml:"tags"`
		FilterByTraceID    bool       `yaml:"filterByTraceID"`
		FilterBySpanID     bool       `yaml:"filterBySpanID"`
		CustomQuery        bool       `yaml:"customQuery"`
		Query              string     `yaml:"query"`
	} `yaml:"tracesToLogsV2"`
	TracesToMetrics struct {
		DatasourceUID      string     `yaml:"datasourceUid"`
		SpanStartTimeShift string     `yaml:"spanStartTimeShift"`
		SpanEndTimeShift   string     `yaml:"spanEndTimeShift"`
		Tags               []tagToUse `yaml:"tags"`
		Queries            []struct {
			Name  string `yaml:"name"`
			Query string `yaml:"query"`
		} `yaml:"queries"`
	} `yaml:"tracesToMetrics"`
	ServiceMap struct {
		DatasourceUID string `yaml:"datasourceUid"`
	} `yaml:"serviceMap"`
	NodeGraph struct {
		Enabled bool `yaml:"enabled"`
	} `yaml:"nodeGraph"`
	Search struct {
		Hide bool `yaml:"hide"`
	} `yaml:"search"`
	LokiSearch struct {
		DatasourceUID string `yaml:"datasourceUid"`
	} `yaml:"lokiSearch"`
	TraceQuery struct {
		TimeShiftEnabled   bool   `yaml:"timeShiftEnabled"`
		SpanStartTimeShift string `yaml:"spanStartTimeShift"`
		SpanEndTimeShift   string `yaml:"spanEndTimeShift"`
	} `yaml:"traceQuery"`
	SpanBar struct {
		Type string `yaml:"type"`
	} `yaml:"spanBar"`
}

// tagToUse maps a span or resource attribute (key) to a label name
// (value; the key itself when empty).
type tagToUse struct {
	Key   string `yaml:"key"`
	Value string `yaml:"value"`
}

// dashboardsFile is a dashboard provider file (Grafana's
// pkg/services/provisioning/dashboards/types.go, configs v1).
type dashboardsFile struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name                  string `yaml:"name"`
		OrgID                 int    `yaml:"orgId"`
		Folder                string `yaml:"folder"`
		FolderUID             string `yaml:"folderUid"`
		Type                  string `yaml:"type"`
		DisableDeletion       bool   `yaml:"disableDeletion"`
		AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
		UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
		Options               struct {
			Path                      string `yaml:"path"`
			FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

// dashboard is a dashboard JSON model (Grafana's
// kinds/dashboard/dashboard_kind.cue, schemaVersion 39), with only the
// keys deploy/grafana uses.
type dashboard struct {
	UID                  string   `json:"uid"`
	Title                string   `json:"title"`
	Description          string   `json:"description"`
	Tags                 []string `json:"tags"`
	Timezone             string   `json:"timezone"`
	Editable             bool     `json:"editable"`
	GraphTooltip         int      `json:"graphTooltip"`
	FiscalYearStartMonth int      `json:"fiscalYearStartMonth"`
	LiveNow              bool     `json:"liveNow"`
	Refresh              string   `json:"refresh"`
	SchemaVersion        int      `json:"schemaVersion"`
	Version              int      `json:"version"`
	WeekStart            string   `json:"weekStart"`
	Time                 struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
	Timepicker json.RawMessage `json:"timepicker"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []annotation `json:"list"`
	} `json:"annotations"`
	Links  []dashboardLink `json:"links"`
	Panels []panel         `json:"panels"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// variable is a dashboard variable of type "query" on the Prometheus
// data source; Query is the editor's object, {"qryType", "query",
// "refId"}, or a plain string in older dashboards.
type variable struct {
	Name       string          `json:"name"`
	Label      string          `json:"label"`
	Type       string          `json:"type"`
	Datasource dsRef           `json:"datasource"`
	Definition string          `json:"definition"`
	Query      json.RawMessage `json:"query"`
	Refresh    int             `json:"refresh"`
	Regex      string          `json:"regex"`
	Sort       int             `json:"sort"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
	Hide       int             `json:"hide"`
	Options    json.RawMessage `json:"options"`
	Current    json.RawMessage `json:"current"`
}

// expr is the variable's query text.
func (v variable) expr() (string, error) {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s, nil
	}
	var q struct {
		QryType int    `json:"qryType"`
		Query   string `json:"query"`
		RefID   string `json:"refId"`
	}
	if err := strictJSON(v.Query, &q); err != nil {
		return "", fmt.Errorf("variable %s: query: %w", v.Name, err)
	}
	return q.Query, nil
}

// annotation is Grafana's built-in annotation or a Prometheus annotation
// query (packages/grafana-prometheus/src/types.ts, PromQuery's
// annotation fields).
type annotation struct {
	BuiltIn         int    `json:"builtIn"`
	Datasource      dsRef  `json:"datasource"`
	Enable          bool   `json:"enable"`
	Hide            bool   `json:"hide"`
	IconColor       string `json:"iconColor"`
	Name            string `json:"name"`
	Type            string `json:"type"`
	Expr            string `json:"expr"`
	Step            string `json:"step"`
	TitleFormat     string `json:"titleFormat"`
	TextFormat      string `json:"textFormat"`
	TagKeys         string `json:"tagKeys"`
	UseValueForTime bool   `json:"useValueForTime"`
}

type dashboardLink struct {
	Title       string   `json:"title"`
	Type        string   `json:"type"` // "link" or "dashboards"
	Icon        string   `json:"icon"`
	Tooltip     string   `json:"tooltip"`
	URL         string   `json:"url"`
	Tags        []string `json:"tags"`
	AsDropdown  bool     `json:"asDropdown"`
	KeepTime    bool     `json:"keepTime"`
	IncludeVars bool     `json:"includeVars"`
	TargetBlank bool     `json:"targetBlank"`
}

type panel struct {
	ID          int    `json:"id"`
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Datasource  dsRef  `json:"datasource"`
	GridPos     struct {
		H int `json:"h"`
		W int `json:"w"`
		X int `json:"x"`
		Y int `json:"y"`
	} `json:"gridPos"`
	FieldConfig     json.RawMessage `json:"fieldConfig"`
	Options         json.RawMessage `json:"options"`
	Targets         []target        `json:"targets"`
	Links           []panelLink     `json:"links"`
	Interval        string          `json:"interval"`
	MaxDataPoints   int             `json:"maxDataPoints"`
	Transformations json.RawMessage `json:"transformations"`
}

type panelLink struct {
	Title       string `json:"title"`
	URL         string `json:"url"`
	TargetBlank bool   `json:"targetBlank"`
}

// target is a panel query of the Prometheus (expr, range, instant,
// exemplar, format, legendFormat), Loki (expr, queryType, maxLines) or
// Tempo (queryType traceql with query, limit, spss, tableType; serviceMap
// with serviceMapQuery) data source.
type target struct {
	RefID           string          `json:"refId"`
	Datasource      dsRef           `json:"datasource"`
	Hide            bool            `json:"hide"`
	EditorMode      string          `json:"editorMode"`
	Expr            string          `json:"expr"`
	LegendFormat    string          `json:"legendFormat"`
	Range           bool            `json:"range"`
	Instant         bool            `json:"instant"`
	Exemplar        bool            `json:"exemplar"`
	Format          string          `json:"format"`
	QueryType       string          `json:"queryType"`
	MaxLines        int             `json:"maxLines"`
	Query           string          `json:"query"`
	Limit           int             `json:"limit"`
	Spss            int             `json:"spss"`
	TableType       string          `json:"tableType"`
	ServiceMapQuery json.RawMessage `json:"serviceMapQuery"`
}

// serviceMapQueries is the target's serviceMapQuery: one selector or a
// list of them.
func (t target) serviceMapQueries() ([]string, error) {
	if len(t.ServiceMapQuery) == 0 {
		return []string{""}, nil
	}
	var one string
	if json.Unmarshal(t.ServiceMapQuery, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(t.ServiceMapQuery, &many); err != nil {
		return nil, fmt.Errorf("serviceMapQuery: want a string or a list of strings: %w", err)
	}
	return many, nil
}

// strictJSON decodes data into v, refusing unknown keys and trailing
// data. encoding/json matches keys to fields ignoring case, Grafana does
// not ("gridpos" is not "gridPos"), so every key of data must also be one
// of v encoded again, as it is written.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON value")
	}
	again, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var in, out any
	if err := fmtErr(json.Unmarshal(data, &in), json.Unmarshal(again, &out)); err != nil {
		return err
	}
	return sameKeys("", in, out)
}

// sameKeys reports the first key of in that out lacks, at the same path.
func sameKeys(path string, in, out any) error {
	switch in := in.(type) {
	case map[string]any:
		o, _ := out.(map[string]any)
		for k, v := range in {
			ov, ok := o[k]
			if !ok {
				return fmt.Errorf("%s: unknown key %q (keys are case-sensitive)", path, k)
			}
			if err := sameKeys(path+"."+k, v, ov); err != nil {
				return err
			}
		}
	case []any:
		o, _ := out.([]any)
		for i, v := range in {
			if i < len(o) {
				if err := sameKeys(fmt.Sprintf("%s[%d]", path, i), v, o[i]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// provisioning is deploy/grafana read as Grafana reads it, with env the
// environment its ${VAR}s expand from.
type provisioning struct {
	datasources map[string]datasourceConfig // by uid
	prom        promJSONData
	loki        lokiJSONData
	tempo       tempoJSONData
	dashboards  map[string]dashboard // by uid
}

// loadProvisioning reads and checks every file of deploy/grafana.
func loadProvisioning(t *testing.T, env map[string]string) *provisioning {
	t.Helper()
	p := &provisioning{datasources: map[string]datasourceConfig{}, dashboards: map[string]dashboard{}}

	data, err := os.ReadFile(filepath.Join(deployDir, "datasources", "horus.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.addDatasources(data, env); err != nil {
		t.Fatalf("datasources/horus.yaml: %v", err)
	}
	for uid, typ := range map[string]string{uidPrometheus: "prometheus", uidLoki: "loki", uidTempo: "tempo"} {
		if p.datasources[uid].Type != typ {
			t.Fatalf("no %s data source with uid %s", typ, uid)
		}
	}

	var df dashboardsFile
	if data, err = os.ReadFile(filepath.Join(deployDir, "dashboards", "horus.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := decodeProvisioning(data, env, &df); err != nil {
		t.Fatalf("dashboards/horus.yaml: %v", err)
	}
	if df.APIVersion != 1 || len(df.Providers) != 1 || df.Providers[0].Type != "file" {
		t.Fatalf("dashboards provider: want apiVersion 1 and one file provider: %+v", df)
	}
	// The provider's path is where the user copies dashboards/horus/.
	if !strings.HasSuffix(df.Providers[0].Options.Path, "/dashboards/horus") {
		t.Fatalf("dashboards provider path %q: want the dashboards/horus folder of the provisioning directory", df.Providers[0].Options.Path)
	}
	files, err := filepath.Glob(filepath.Join(deployDir, "dashboards", "horus", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboard in dashboards/horus: %v", err)
	}
	for _, f := range files {
		if filepath.Ext(f) != ".json" {
			t.Fatalf("%s: the provider reads JSON dashboards only", f)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := strictJSON(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, dup := p.dashboards[d.UID]; dup || d.UID == "" {
			t.Fatalf("%s: uid %q missing or not unique", f, d.UID)
		}
		p.dashboards[d.UID] = d
	}
	return p
}

// addDatasources reads a data source provisioning file: every data
// source has a unique uid, access proxy and the URL HORUS_URL, and a
// jsonData of its type's shape.
func (p *provisioning) addDatasources(data []byte, env map[string]string) error {
	var dsf datasourcesFile
	if err := decodeProvisioning(data, env, &dsf); err != nil {
		return err
	}
	if dsf.APIVersion != 1 {
		return fmt.Errorf("apiVersion %d, want 1", dsf.APIVersion)
	}
	for _, ds := range dsf.Datasources {
		if _, dup := p.datasources[ds.UID]; dup || ds.UID == "" {
			return fmt.Errorf("datasource %q: uid %q missing or not unique", ds.Name, ds.UID)
		}
		if ds.Access != "proxy" || ds.URL != env["HORUS_URL"] {
			return fmt.Errorf("datasource %s: access %q url %q, want proxy and HORUS_URL", ds.UID, ds.Access, ds.URL)
		}
		p.datasources[ds.UID] = ds
		var dst any
		switch ds.Type {
		case "prometheus":
			dst = &p.prom
		case "loki":
			dst = &p.loki
		case "tempo":
			dst = &p.tempo
		default:
			return fmt.Errorf("datasource %s: type %q", ds.UID, ds.Type)
		}
		raw, err := yaml.Marshal(ds.JSONData)
		if err != nil {
			return err
		}
		if err := yaml.UnmarshalStrict(raw, dst); err != nil {
			return fmt.Errorf("datasource %s: jsonData: %w", ds.UID, err)
		}
	}
	return nil
}

// decodeProvisioning reads a provisioning file as Grafana does: YAML,
// every string value expanded from env (expandProvisioning), then decoded
// into v strictly (an unknown key is an error). A variable env does not
// set is an error: Grafana would make it empty.
func decodeProvisioning(data []byte, env map[string]string, v any) error {
	var tree any
	if err := yaml.Unmarshal(data, &tree); err != nil {
		return err
	}
	var missing []string
	tree = expandTree(tree, func(name string) string {
		v, ok := env[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return fmt.Errorf("${%s} is not set (a literal $ is $$ in provisioning files)", strings.Join(missing, "}, ${"))
	}
	out, err := yaml.Marshal(tree)
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(out, v)
}

// expandTree expands every string of a YAML tree (expandProvisioning).
func expandTree(v any, env func(string) string) any {
	switch v := v.(type) {
	case string:
		return expandProvisioning(v, env)
	case []any:
		for i := range v {
			v[i] = expandTree(v[i], env)
		}
	case map[any]any:
		for k := range v {
			v[k] = expandTree(v[k], env)
		}
	}
	return v
}

// expandProvisioning is Grafana's interpolation of provisioning values
// (pkg/services/provisioning/values/values.go, interpolateValue): the
// value is split at "$$", each part has $VAR and ${VAR} expanded as
// os.ExpandEnv does, and the parts are joined with a literal "$".
func expandProvisioning(s string, env func(string) string) string {
	parts := strings.Split(s, "$$")
	for i, p := range parts {
		parts[i] = os.Expand(p, env)
	}
	return strings.Join(parts, "$")
}

// TestProvisioning checks deploy/grafana without a Horus: every file
// parses strictly, every uid a dashboard or a link names is a provisioned
// data source of the right type, the dashboards use Grafana 11's schema,
// and every variable a query uses is defined.
func TestProvisioning(t *testing.T) {
	p := loadProvisioning(t, map[string]string{"HORUS_URL": "http://127.0.0.1:3300"})

	if got := p.prom.ExemplarTraceIDDestinations; len(got) != 1 || got[0].Name != "trace_id" || got[0].DatasourceUID != uidTempo {
		t.Errorf("exemplarTraceIdDestinations = %+v, want trace_id to %s (span metrics' exemplar label)", got, uidTempo)
	}
	var matchers []string
	for _, f := range p.loki.DerivedFields {
		if f.DatasourceUID != uidTempo || f.URL != "${__value.raw}" {
			t.Errorf("derived field %q: to %q with %q, want %s with ${__value.raw}", f.Name, f.DatasourceUID, f.URL, uidTempo)
		}
		if _, err := regexp.Compile(f.MatcherRegex); err != nil {
			t.Errorf("derived field %q: %v", f.Name, err)
		}
		matchers = append(matchers, f.MatcherType)
	}
	slices.Sort(matchers)
	if !slices.Equal(matchers, []string{"label", "regex"}) {
		t.Errorf("derived fields' matchers %v, want one label (OTLP logs) and one regex (ids in the line)", matchers)
	}
	tempo := p.tempo
	for what, uid := range map[string]string{
		"tracesToLogsV2": tempo.TracesToLogsV2.DatasourceUID, "tracesToMetrics": tempo.TracesToMetrics.DatasourceUID,
		"serviceMap": tempo.ServiceMap.DatasourceUID, "lokiSearch": tempo.LokiSearch.DatasourceUID,
	} {
		if _, ok := p.datasources[uid]; !ok {
			t.Errorf("tempo %s: data source %q is not provisioned", what, uid)
		}
	}
	if !tempo.NodeGraph.Enabled || tempo.StreamingEnabled.Search || tempo.StreamingEnabled.Metrics {
		t.Errorf("tempo: node graph %v, streaming %+v; want the node graph on and streaming off (Horus has no gRPC streaming)", tempo.NodeGraph.Enabled, tempo.StreamingEnabled)
	}

	for uid, d := range p.dashboards {
		if d.SchemaVersion < 39 {
			t.Errorf("%s: schemaVersion %d, want Grafana 11's (39) or later", uid, d.SchemaVersion)
		}
		vars := map[string]bool{}
		for _, v := range d.Templating.List {
			vars[v.Name] = true
		}
		check := func(where string, ref dsRef, texts ...string) {
			if ds, ok := p.datasources[ref.UID]; !ok || ds.Type != ref.Type {
				t.Errorf("%s: %s: data source %+v is not provisioned", uid, where, ref)
			}
			for _, s := range texts {
				for _, name := range usedVariables(s) {
					if !vars[name] && !builtinVariable(name) {
						t.Errorf("%s: %s: $%s is not a variable of the dashboard", uid, where, name)
					}
				}
			}
		}
		for _, v := range d.Templating.List {
			e, err := v.expr()
			if err != nil {
				t.Error(err)
			}
			check("variable "+v.Name, v.Datasource, e)
		}
		for _, a := range d.Annotations.List {
			if a.BuiltIn == 1 {
				continue // Grafana's own annotations, stored in Grafana
			}
			check("annotation "+a.Name, a.Datasource, a.Expr, a.TitleFormat)
		}
		ids := map[int]bool{}
		for _, pn := range d.Panels {
			if ids[pn.ID] || pn.GridPos.X+pn.GridPos.W > 24 || pn.GridPos.W <= 0 || pn.GridPos.H <= 0 {
				t.Errorf("%s: panel %q: id %d repeated or gridPos %+v outside the 24 columns", uid, pn.Title, pn.ID, pn.GridPos)
			}
			ids[pn.ID] = true
			if !slices.Contains([]string{"stat", "timeseries", "table", "logs", "nodeGraph"}, pn.Type) {
				t.Errorf("%s: panel %q: type %q", uid, pn.Title, pn.Type)
			}
			if len(pn.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", uid, pn.Title)
			}
			for _, tg := range pn.Targets {
				smq, err := tg.serviceMapQueries()
				if err != nil {
					t.Errorf("%s: panel %q: %v", uid, pn.Title, err)
				}
				check("panel "+pn.Title, tg.Datasource, append(smq, tg.Expr, tg.Query)...)
				if tg.Datasource != pn.Datasource {
					t.Errorf("%s: panel %q: query %s on %+v, panel on %+v", uid, pn.Title, tg.RefID, tg.Datasource, pn.Datasource)
				}
			}
			for _, l := range pn.Links {
				checkDashboardURL(t, p, uid, l.URL)
			}
		}
		for _, l := range d.Links {
			switch l.Type {
			case "dashboards":
				found := false
				for other, od := range p.dashboards {
					found = found || other != uid && containsAll(od.Tags, l.Tags)
				}
				if !found {
					t.Errorf("%s: link %q: no other dashboard has the tags %v", uid, l.Title, l.Tags)
				}
			case "link":
				checkDashboardURL(t, p, uid, l.URL)
			default:
				t.Errorf("%s: link %q: type %q", uid, l.Title, l.Type)
			}
		}
	}
}

// checkDashboardURL checks that a /d/<uid> link names a provisioned
// dashboard.
func checkDashboardURL(t *testing.T, p *provisioning, from, u string) {
	t.Helper()
	if rest, ok := strings.CutPrefix(u, "/d/"); ok {
		uid, _, _ := strings.Cut(rest, "/")
		if _, ok := p.dashboards[uid]; !ok {
			t.Errorf("%s: link %q: no dashboard %q", from, u, uid)
		}
	}
}

// TestProvisioningRefusesUnknownShapes checks that the parsing above
// refuses what Grafana would silently ignore or leave empty.
func TestProvisioningRefusesUnknownShapes(t *testing.T) {
	env := map[string]string{"HORUS_URL": "http://127.0.0.1:3300"}
	ds := func(jsonData string) string {
		return "apiVersion: 1\ndatasources:\n  - {name: m, type: prometheus, uid: horus-prometheus, access: proxy, url: $HORUS_URL, jsonData: " + jsonData + "}\n"
	}
	for name, file := range map[string]string{
		"a misspelt jsonData key": ds("{exemplarTraceIdDestination: [{name: trace_id, datasourceUid: horus-tempo}]}"),
		"a misspelt nested key":   ds("{exemplarTraceIdDestinations: [{name: trace_id, datasourceUID: horus-tempo}]}"),
		"an unset variable":       strings.Replace(ds("{}"), "$HORUS_URL", "${GRAFANA_HORUS_URL}", 1),
		"an unknown top key":      "apiVersion: 1\ndatasource: []\n",
		"another type":            strings.Replace(ds("{}"), "prometheus", "mysql", 1),
		"direct access":           strings.Replace(ds("{}"), "proxy", "direct", 1),
	} {
		p := &provisioning{datasources: map[string]datasourceConfig{}}
		if err := p.addDatasources([]byte(file), env); err == nil {
			t.Errorf("%s: accepted:\n%s", name, file)
		}
	}
	for name, js := range map[string]string{
		"a misspelt panel key":  `{"uid": "x", "panels": [{"id": 1, "gridpos": {"h": 1, "w": 1, "x": 0, "y": 0}}]}`,
		"a misspelt target key": `{"uid": "x", "panels": [{"id": 1, "targets": [{"refId": "A", "exemplars": true}]}]}`,
		"two values":            `{"uid": "x"} {"uid": "y"}`,
	} {
		if err := strictJSON([]byte(js), &dashboard{}); err == nil {
			t.Errorf("%s: accepted: %s", name, js)
		}
	}
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return len(want) > 0
}
