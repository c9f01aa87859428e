package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestFlush: POST /flush answers 204 once the pushed lines are in a block
// (the head is empty), GET is refused, and a restart after it finds the
// lines in the block, not only in the WAL.
func TestFlush(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	ns := time.Now().UnixNano()
	var values [][]string
	for i := range 100 {
		values = append(values, []string{strconv.FormatInt(ns+int64(i), 10), "line " + strconv.Itoa(i)})
	}
	body, _ := json.Marshal(map[string]any{"streams": []any{map[string]any{
		"stream": map[string]string{"service_name": "cart"}, "values": values,
	}}})
	expectPost(t, ts.URL()+"/loki/api/v1/push", body, map[string]string{"Content-Type": "application/json"}, http.StatusNoContent, "")
	resp, err := http.Get(ts.URL() + "/flush")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Fatalf("GET /flush: %d, want a refusal (only POST flushes)", resp.StatusCode)
	}
	expectPost(t, ts.URL()+"/flush", nil, nil, http.StatusNoContent, "")
	st := ts.events.Status()
	if len(st.Tenants) != 1 || st.Tenants[0].HeadEvents != 0 || st.Tenants[0].Rows != 100 {
		t.Fatalf("after /flush: %+v, want 100 rows in blocks and an empty head", st.Tenants)
	}
	ts.stop()
	ts = startServer(t, dir)
	st = ts.events.Status()
	if len(st.Tenants) != 1 || st.Tenants[0].HeadEvents != 0 || st.Tenants[0].Rows != 100 {
		t.Fatalf("after a restart: %+v, want the 100 rows in blocks", st.Tenants)
	}
}
