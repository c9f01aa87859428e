package jsonlines

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/store/events"
)

// TestDecodeArenas decodes enough lines to fill several chunks of both
// arenas, with values and attribute lists too large for a chunk among
// them, then overwrites the request body: every value must be as sent (no
// string aliases the body or another line's text), and appending to one
// line's attributes must not change the next line's.
func TestDecodeArenas(t *testing.T) {
	var body bytes.Buffer
	const n = 3000
	long := strings.Repeat("z", textChunk)
	for i := range n {
		fmt.Fprintf(&body, `{"msg":"line %d","level":"info","service":"svc-%d","k%d":"v-%d","n":%d,"arr":[%d,"x"]`, i, i%3, i%7, i, i, i)
		switch i {
		case 100:
			fmt.Fprintf(&body, `,"long":%q`, long)
		case 200:
			for j := range attrChunk / 2 {
				fmt.Fprintf(&body, `,"f%d":"%d"`, j, j)
			}
		}
		body.WriteString("}\n")
	}
	b := body.Bytes()
	var rej ingest.Rejections
	logs := newDecoder(DefaultFields(), nil, 1, ingest.LogLimits{}).decode(b, &rej)
	if len(logs) != n || rej.Count != 0 {
		t.Fatalf("%d lines, %v", len(logs), rej.Err())
	}
	for i := range b {
		b[i] = 'X'
	}
	logs[0].Attrs = append(logs[0].Attrs, events.Attr{Key: "added", Value: events.Str("by a later stage")})
	for i, e := range logs {
		want := map[string]string{"k" + strconv.Itoa(i%7): "v-" + strconv.Itoa(i), "n": strconv.Itoa(i), "arr": `[` + strconv.Itoa(i) + `,"x"]`}
		switch i {
		case 0:
			want["added"] = "by a later stage"
		case 100:
			want["long"] = long
		case 200:
			for j := range attrChunk / 2 {
				want["f"+strconv.Itoa(j)] = strconv.Itoa(j)
			}
		}
		if e.Body != "line "+strconv.Itoa(i) || e.Service != "svc-"+strconv.Itoa(i%3) || e.SeverityText != "info" || len(e.Attrs) != len(want) {
			t.Fatalf("line %d = %q %q %q, %d attributes, want %d", i, e.Body, e.Service, e.SeverityText, len(e.Attrs), len(want))
		}
		for _, a := range e.Attrs {
			if a.Value.String() != want[a.Key] {
				t.Fatalf("line %d: %s = %q, want %q", i, a.Key, a.Value.String(), want[a.Key])
			}
		}
	}
}
