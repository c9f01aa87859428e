// Package changes keeps change events: deploys, configuration changes,
// feature flags, rollbacks, the answer to "what changed?" when something
// breaks. A change comes from the API (POST /api/v1/changes), the command
// line (horus change add, for CI pipelines), or Horus itself, when the
// service.version of a service's telemetry changes (Watcher).
//
// Changes are stored in the event store under a kind of their own
// (events.KindChange: the logs' schema, WAL and retention, but never read
// by a log query), and each is also one sample of the Prometheus series
// horus_change_event{service, instance, kind, version}, so any Grafana
// panel can draw changes as annotations from a PromQL query.
// docs/changes.md tells the whole story.
package changes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/horus-obs/horus/internal/store/events"
)

// The kinds of change.
const (
	KindDeploy      = "deploy"
	KindConfig      = "config"
	KindFeatureFlag = "feature_flag"
	KindRollback    = "rollback"
	KindOther       = "other"
)

// Kinds lists the kinds of change, in the order messages name them.
var Kinds = []string{KindDeploy, KindConfig, KindFeatureFlag, KindRollback, KindOther}

// The sources of a change.
const (
	SourceAPI  = "api"  // POST /api/v1/changes
	SourceCLI  = "cli"  // horus change add
	SourceAuto = "auto" // a new service.version in incoming telemetry
)

// Link is a link of a change: the pipeline run, the pull request, the
// flag's page.
type Link struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Change is one change event.
type Change struct {
	// ID names the change: a hash of its content, so the same change sent
	// twice (a client's retry with the same time) is one change.
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Service  string `json:"service"`
	Instance string `json:"instance,omitempty"`
	Version  string `json:"version,omitempty"`
	// PreviousVersion is the version a detected deploy replaced (source
	// auto).
	PreviousVersion string    `json:"previousVersion,omitempty"`
	Author          string    `json:"author,omitempty"`
	Description     string    `json:"description,omitempty"`
	Links           []Link    `json:"links,omitempty"`
	Time            time.Time `json:"time"`
	Source          string    `json:"source"`
	Tenant          string    `json:"tenant"`
}

// Limits on a change's fields, in bytes.
const (
	maxNameBytes        = 256 // service, instance, version, author
	maxDescriptionBytes = 16 << 10
	maxLinks            = 20
	maxLinkTitleBytes   = 256
	maxURLBytes         = 2048
	// MaxFuture is how far ahead of the clock a change may be timed, as a
	// log line may (Loki's creation grace period).
	MaxFuture = 10 * time.Minute
)

// Check validates a change: a known kind and source, a service, texts
// within their limits and valid UTF-8, links with an http(s) URL, a time
// set and not more than MaxFuture ahead of now. The error names the field
// and what is wanted.
func (c *Change) Check(now time.Time) error {
	if c.Kind == "" {
		return fmt.Errorf("kind is missing; want one of %s", strings.Join(Kinds, ", "))
	}
	if !slices.Contains(Kinds, c.Kind) {
		return fmt.Errorf("kind %q is unknown; want one of %s", c.Kind, strings.Join(Kinds, ", "))
	}
	switch c.Source {
	case SourceAPI, SourceCLI, SourceAuto:
	default:
		return fmt.Errorf("source %q is unknown; want api or cli (auto is Horus' own)", c.Source)
	}
	if strings.TrimSpace(c.Service) == "" {
		return fmt.Errorf("service is missing: name the service that changed")
	}
	for _, f := range []struct{ name, v string }{{"service", c.Service}, {"instance", c.Instance}, {"version", c.Version},
		{"previousVersion", c.PreviousVersion}, {"author", c.Author}} {
		if err := checkText(f.name, f.v, maxNameBytes); err != nil {
			return err
		}
	}
	if err := checkText("description", c.Description, maxDescriptionBytes); err != nil {
		return err
	}
	if len(c.Links) > maxLinks {
		return fmt.Errorf("links: %d links, more than the limit of %d", len(c.Links), maxLinks)
	}
	for i, l := range c.Links {
		if err := checkText(fmt.Sprintf("links[%d].title", i), l.Title, maxLinkTitleBytes); err != nil {
			return err
		}
		if err := checkURL(fmt.Sprintf("links[%d].url", i), l.URL); err != nil {
			return err
		}
	}
	if c.Time.IsZero() {
		return fmt.Errorf("time is missing")
	}
	if c.Time.After(now.Add(MaxFuture)) {
		return fmt.Errorf("time %s is more than %v ahead of the server's clock (%s)", c.Time.UTC().Format(time.RFC3339), MaxFuture, now.UTC().Format(time.RFC3339))
	}
	if c.Time.UnixNano() <= 0 {
		return fmt.Errorf("time %s is before 1970", c.Time.UTC().Format(time.RFC3339))
	}
	return nil
}

func checkText(field, v string, limit int) error {
	if len(v) > limit {
		return fmt.Errorf("%s is %d bytes, more than the limit of %d", field, len(v), limit)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	return nil
}

func checkURL(field, v string) error {
	if v == "" {
		return fmt.Errorf("%s is missing", field)
	}
	if err := checkText(field, v, maxURLBytes); err != nil {
		return err
	}
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("%s %q is not a URL: %w", field, v, err)
	}
	// A javascript: or data: link would run in the page that shows it.
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q: want an absolute http:// or https:// URL", field, v)
	}
	return nil
}

// setID names c by a hash of its content.
func (c *Change) setID() {
	h := sha256.New()
	links, _ := json.Marshal(c.Links)
	for _, s := range []string{c.Tenant, c.Kind, c.Service, c.Instance, c.Version, c.PreviousVersion, c.Author,
		c.Description, string(links), c.Time.UTC().Format(time.RFC3339Nano), c.Source} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	c.ID = hex.EncodeToString(h.Sum(nil)[:8])
}

// The names a change's fields are stored under, in an event of
// events.KindChange: the service, instance and version as OpenTelemetry
// names them, in the resource; the rest as attributes; the description
// as the body.
const (
	scopeName       = "horus.changes"
	attrID          = "change.id"
	attrKind        = "change.kind"
	attrSource      = "change.source"
	attrAuthor      = "change.author"
	attrPrevious    = "change.previous_version"
	attrLinks       = "change.links"
	resService      = "service.name"
	resInstance     = "service.instance.id"
	resVersion      = "service.version"
	fieldService    = "service_name"
	fieldInstance   = "resource." + resInstance
	fieldChangeKind = "attrs." + attrKind
)

// event is c as it is stored.
func (c *Change) event() events.Event {
	res := events.Attrs{{Key: resService, Value: events.Str(c.Service)}}
	if c.Instance != "" {
		res = append(res, events.Attr{Key: resInstance, Value: events.Str(c.Instance)})
	}
	if c.Version != "" {
		res = append(res, events.Attr{Key: resVersion, Value: events.Str(c.Version)})
	}
	attrs := events.Attrs{
		{Key: attrID, Value: events.Str(c.ID)},
		{Key: attrKind, Value: events.Str(c.Kind)},
		{Key: attrSource, Value: events.Str(c.Source)},
	}
	if c.Author != "" {
		attrs = append(attrs, events.Attr{Key: attrAuthor, Value: events.Str(c.Author)})
	}
	if c.PreviousVersion != "" {
		attrs = append(attrs, events.Attr{Key: attrPrevious, Value: events.Str(c.PreviousVersion)})
	}
	if len(c.Links) > 0 {
		b, _ := json.Marshal(c.Links)
		attrs = append(attrs, events.Attr{Key: attrLinks, Value: events.Str(string(b))})
	}
	return events.Event{
		Time:     c.Time.UnixNano(),
		Service:  c.Service,
		Resource: res,
		Scope:    scopeName,
		Attrs:    attrs,
		Body:     c.Description,
	}
}

// fromEvent is the change stored as e.
func fromEvent(tenant string, e *events.Event) Change {
	get := func(a events.Attrs, k string) string {
		v, _ := a.Get(k)
		return v.Str
	}
	c := Change{
		ID:              get(e.Attrs, attrID),
		Kind:            get(e.Attrs, attrKind),
		Service:         e.Service,
		Instance:        get(e.Resource, resInstance),
		Version:         get(e.Resource, resVersion),
		PreviousVersion: get(e.Attrs, attrPrevious),
		Author:          get(e.Attrs, attrAuthor),
		Description:     e.Body,
		Time:            time.Unix(0, e.Time).UTC(),
		Source:          get(e.Attrs, attrSource),
		Tenant:          tenant,
	}
	if l := get(e.Attrs, attrLinks); l != "" {
		_ = json.Unmarshal([]byte(l), &c.Links)
	}
	return c
}
