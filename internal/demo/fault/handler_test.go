package fault

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func newTestServer(t *testing.T) (*Injector, *httptest.Server, *Client) {
	t.Helper()
	i := newTestInjector(t, "payments", "2", nil)
	srv := httptest.NewServer(i.Handler()) // 127.0.0.1
	t.Cleanup(srv.Close)
	return i, srv, NewClient(srv.URL+"/", &http.Client{Timeout: 10 * time.Second})
}

func TestClientRoundTrip(t *testing.T) {
	i, _, c := newTestServer(t)
	ctx := context.Background()
	f, err := Parse(`kind=latency service=payments instance=2 route="POST /pay" median=200ms p99=2s fraction=0.3 match=tenant:acme for=10m id=slow-pay`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Add(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "slow-pay" || got.Expires.IsZero() || got.String() != f.String() {
		t.Fatalf("Add returned %v (expires %v)", got, got.Expires)
	}
	if l := i.List(); len(l) != 1 || l[0].String() != f.String() {
		t.Fatalf("the injector holds %v", l)
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 1 || list[0].String() != f.String() || !list[0].Expires.Equal(i.List()[0].Expires) {
		t.Fatalf("List = %v, %v", list, err)
	}
	if _, err := c.Add(ctx, Fault{Kind: KindCPUBurn, Target: Target{Service: "payments", Instance: "3"}}); err == nil {
		t.Fatal("Add of a fault for instance 3 succeeded at instance 2")
	} else if ae := (*APIError)(nil); !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "targets another process") {
		t.Fatalf("Add for another instance: %v", err)
	}
	if ok, err := c.Remove(ctx, "slow-pay"); !ok || err != nil {
		t.Fatalf("Remove = %v, %v", ok, err)
	}
	if ok, err := c.Remove(ctx, "slow-pay"); ok || err != nil {
		t.Fatalf("second Remove = %v, %v, want false, nil", ok, err)
	}
	mustAdd(t, i, `kind=error service=payments`)
	if err := c.Clear(ctx); err != nil || len(i.List()) != 0 {
		t.Fatalf("Clear = %v, left %v", err, i.List())
	}
	if _, err := NewClient("http://127.0.0.1:1", nil).List(ctx); err == nil {
		t.Fatal("List from a closed port succeeded")
	}
}

func do(t *testing.T, method, u, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestHandler(t *testing.T) {
	i, srv, _ := newTestServer(t)
	base := srv.URL + "/faults"

	// A spec, then a JSON fault.
	code, body := do(t, "POST", base, "application/json", `{"spec": "kind=error service=payments status=503 id=e1"}`)
	if code != 201 || !strings.Contains(body, `"id":"e1"`) || !strings.Contains(body, `"status":503`) {
		t.Fatalf("POST spec = %d %s", code, body)
	}
	code, body = do(t, "POST", base, "application/json", `{"spec": "kind=refuse_connections service=payments instance=2 id=r1"}`)
	if code != 201 || !i.Refusing() {
		t.Fatalf("POST spec = %d %s", code, body)
	}
	code, body = do(t, "POST", base, "application/json; charset=utf-8",
		`{"id":"l1","kind":"latency","service":"payments","median":"5ms","p99":"50ms"}`)
	if code != 201 || !strings.Contains(body, `"median":"5ms"`) {
		t.Fatalf("POST JSON = %d %s", code, body)
	}
	code, body = do(t, "GET", base, "", "")
	var list []Fault
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list) != 3 || list[2].Latency.P99 != 50*time.Millisecond {
		t.Fatalf("GET /faults = %d %s", code, body)
	}
	if code, body = do(t, "GET", base+"/r1", "", ""); code != 200 || !strings.Contains(body, `"kind":"refuse_connections"`) {
		t.Fatalf("GET /faults/r1 = %d %s", code, body)
	}

	// Bad requests name the problem.
	for _, c := range []struct {
		method, path, ctype, body string
		code                      int
		msg                       string
	}{
		{"POST", "", "application/json", `{"spec": "kind=latency service=payments median=2s p99=1s"}`, 400, "spec: p99=1s is below median=2s"},
		{"POST", "", "application/json", `{"spec": "kind=boom service=payments"}`, 400, `unknown kind \"boom\"`},
		{"POST", "", "application/json", `{"spec": 3}`, 400, `\"spec\" is a string`},
		{"POST", "", "application/json", `{"spec": "kind=error service=payments", "kind": "error"}`, 400, `has no other key`},
		{"POST", "", "application/json", `{"kind":"error","service":"payments","status":200}`, 400, "4xx or 5xx"},
		{"POST", "", "application/json", `{"kind":"error","service":"payments","fraction":1.5}`, 400, "fraction=1.5"},
		{"POST", "", "application/json", `{"kind":"error","service":"payments","colour":1}`, 400, `unknown field \"colour\"`},
		{"POST", "", "application/json", `{"kind":`, 400, "fault JSON"},
		{"POST", "", "application/json", `{"kind":"error","service":"orders"}`, 400, "targets another process"},
		{"POST", "", "application/json", `{"kind":"error","service":"payments","message":"` + strings.Repeat("x", 70000) + `"}`, 413, "too large"},
		{"POST", "", "text/plain", "kind=error", 415, `content type \"text/plain\"`},
		{"POST", "", "", "", 415, `content type \"\"`},
		{"POST", "?spec=" + url.QueryEscape("kind=error service=payments"), "", "", 415, "send a JSON fault"},
		{"POST", "", "application/x-www-form-urlencoded", "spec=kind%3Derror+service%3Dpayments", 415, "send a JSON fault"},
		{"DELETE", "/nope", "", "", 404, `no fault with id \"nope\"`},
		{"GET", "/nope", "", "", 404, `no fault with id \"nope\"`},
		{"PUT", "", "", "", 405, ""},
	} {
		code, body := do(t, c.method, base+c.path, c.ctype, c.body)
		if code != c.code || !strings.Contains(body, c.msg) {
			t.Errorf("%s %s (%s): %d %s, want %d with %q", c.method, c.path, c.ctype, code, body, c.code, c.msg)
		}
	}

	// A host name that is not a loopback one (a name rebound to 127.0.0.1 by
	// a web page) is refused.
	req, err := http.NewRequest("DELETE", base, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "shop.example.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 403 || len(i.List()) != 3 {
		t.Fatalf("DELETE with Host shop.example.com = %d, %d faults left", resp.StatusCode, len(i.List()))
	}
	for _, h := range []string{"localhost:80", "127.0.0.1", "[::1]:9000", "localhost"} {
		if !loopbackHost(h) {
			t.Errorf("loopbackHost(%q) = false", h)
		}
	}
	if loopbackHost("10.0.0.1:80") || loopbackHost("localhost.evil.com") {
		t.Error("loopbackHost took a remote host")
	}

	if code, _ := do(t, "DELETE", base+"/r1", "", ""); code != 204 || i.Refusing() {
		t.Fatalf("DELETE /faults/r1 = %d, refusing %v", code, i.Refusing())
	}
	if code, _ := do(t, "DELETE", base, "", ""); code != 204 || len(i.List()) != 0 {
		t.Fatalf("DELETE /faults = %d, left %v", code, i.List())
	}
}
