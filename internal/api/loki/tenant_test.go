package loki

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// pushAs sends one line of stream {app=<app>} as Loki's JSON push, as
// tenant ("" for none: the default tenant).
func (a *testAPI) pushAs(tenant, app string, at time.Time, text string) {
	a.t.Helper()
	body, _ := json.Marshal(map[string]any{"streams": []any{map[string]any{
		"stream": map[string]string{"app": app},
		"values": [][]string{{strconv.FormatInt(at.UnixNano(), 10), text}}}}})
	req, _ := http.NewRequest(http.MethodPost, a.url+"/loki/api/v1/push", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tenant != "" {
		req.Header.Set("X-Scope-OrgID", tenant)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		a.t.Fatalf("push as %q: %d %s", tenant, resp.StatusCode, b)
	}
}

// TestTailTenants: two tenants' lines under the same selector. The web
// UI's live tail polls query_range with X-Scope-OrgID (web/src/lib/tail.ts:
// the first poll backward, then forward from the newest line's exact
// nanosecond, inclusive); each tenant sees its own lines only, and a
// poll from a line's nanosecond gives that line again (the UI drops it).
// The websocket tail takes the tenant from the header too; an orgId query
// parameter is ignored, as Loki ignores it (dskit's
// user.ExtractOrgIDFromHTTPRequest reads the header alone), so a URL
// cannot pick a tenant behind a proxy that authenticates by setting the
// header.
func TestTailTenants(t *testing.T) {
	a := startAPI(t)
	t0 := minute()
	a.pushAs("team-a", "shop", t0.Add(time.Second), "a first")
	a.pushAs("team-b", "shop", t0.Add(time.Second), "b first")
	a.pushAs("team-a", "shop", t0.Add(2*time.Second), "a second")
	a.pushAs("", "shop", t0.Add(2*time.Second), "default only")

	poll := func(tenant string, start time.Time, direction string) []string {
		t.Helper()
		var r queryResponse
		h := map[string]string{}
		if tenant != "" {
			h["X-Scope-OrgID"] = tenant
		}
		a.getJSON("/loki/api/v1/query_range", url.Values{"query": {`{app="shop"}`},
			"start": {strconv.FormatInt(start.UnixNano(), 10)}, "end": {strconv.FormatInt(t0.Add(time.Minute).UnixNano(), 10)},
			"limit": {"100"}, "direction": {direction}}, h, &r)
		var out []string
		for _, s := range r.Data.Result {
			for _, v := range s.Values {
				text, _ := v[1].(string)
				out = append(out, text)
			}
		}
		return out
	}
	for _, tc := range []struct {
		tenant    string
		start     time.Time
		direction string
		want      string
	}{
		{"team-a", t0, "backward", "a second,a first"},
		{"team-b", t0, "backward", "b first"},
		{"", t0, "backward", "default only"},
		// The next poll, from the newest line's nanosecond: it again, and what came after.
		{"team-a", t0.Add(time.Second), "forward", "a first,a second"},
		{"team-b", t0.Add(time.Second), "forward", "b first"},
		{"team-b", t0.Add(time.Second + time.Nanosecond), "forward", ""},
	} {
		if got := strings.Join(poll(tc.tenant, tc.start, tc.direction), ","); got != tc.want {
			t.Errorf("poll as %q from %v %s: got %q, want %q", tc.tenant, tc.start.Sub(t0), tc.direction, got, tc.want)
		}
	}

	tail := func(header, orgID string) string {
		t.Helper()
		params := url.Values{"query": {`{app="shop"}`}, "start": {strconv.FormatInt(t0.UnixNano(), 10)}}
		if orgID != "" {
			params.Set("orgId", orgID)
		}
		cfg, err := websocket.NewConfig("ws"+strings.TrimPrefix(a.url, "http")+"/loki/api/v1/tail?"+params.Encode(), "http://127.0.0.1/")
		if err != nil {
			t.Fatal(err)
		}
		if header != "" {
			cfg.Header.Set("X-Scope-OrgID", header)
		}
		ws, err := websocket.DialConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = ws.Close() }()
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		var msg struct {
			Streams []jsonStream `json:"streams"`
		}
		if err := websocket.JSON.Receive(ws, &msg); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range msg.Streams {
			for _, v := range s.Values {
				text, _ := v[1].(string)
				out = append(out, text)
			}
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct{ header, orgID, want string }{
		{"team-b", "", "b first"},
		{"team-a", "team-b", "a first,a second"},
		{"", "team-b", "default only"},
	} {
		if got := tail(tc.header, tc.orgID); got != tc.want {
			t.Errorf("tail with header %q, orgId %q: got %q, want %q", tc.header, tc.orgID, got, tc.want)
		}
	}
}
