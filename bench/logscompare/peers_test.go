package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

// TestLokiPushBody wants every line in the stream of its service and
// level, as it is, at its time, with its ids as structured metadata.
func TestLokiPushBody(t *testing.T) {
	var in bytes.Buffer
	tr, err := generate(&in, genOptions{Lines: 500, Seed: 3, End: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), Span: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	body, err := lokiPushBody(in.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var push struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values [][3]json.RawMessage
		} `json:"streams"`
	}
	if err := json.Unmarshal(body, &push); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range push.Streams {
		for _, v := range s.Values {
			var ns, line string
			var md map[string]string
			if err := json.Unmarshal(v[0], &ns); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(v[1], &line); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(v[2], &md); err != nil {
				t.Fatal(err)
			}
			var l shopFields
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatal(err)
			}
			if s.Stream["service_name"] != l.Service || s.Stream["level"] != l.Level || md["trace_id"] != l.TraceID ||
				ns != strconv.FormatInt(l.Time.UnixNano(), 10) {
				t.Fatalf("stream %v, ts %s, metadata %v for line %s", s.Stream, ns, md, line)
			}
			n++
		}
	}
	if n != tr.Lines {
		t.Fatalf("%d entries, want %d", n, tr.Lines)
	}
	if _, err := lokiPushBody([]byte("{\"time\":1}\nnot json\n")); err == nil {
		t.Fatal("a line that is not JSON gave no error")
	}
}
