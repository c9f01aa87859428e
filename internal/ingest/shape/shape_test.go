package shape

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/horus-obs/horus/internal/ingest"
)

// recorder writes what Walk reports as text.
type recorder struct{ b strings.Builder }

func (r *recorder) Open(key []byte, array bool, off int) error {
	fmt.Fprintf(&r.b, "open(%s,%v,%d) ", key, array, off)
	return nil
}

func (r *recorder) Close(end int) error {
	fmt.Fprintf(&r.b, "close(%d) ", end)
	return nil
}

func (r *recorder) Scalar(key, value []byte) error {
	fmt.Fprintf(&r.b, "%s=%s ", key, value)
	return nil
}

func TestWalk(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"a":1,"b":[true,{"c":null}],"d\u0041":"x\"y"} trailing`, `open(,false,0) a=1 open(b,true,11) =true open(,false,17) c=null close(27) close(28) dA="x\"y" close(46) `},
		{`  "top"`, `="top" `},
		{`12`, `=12 `},
		{``, ``},
		{`[[],{}]`, `open(,true,0) open(,true,1) close(3) open(,false,4) close(6) close(7) `},
		{`{"a":1,}`, `open(,false,0) a=1 close(8) `}, // as jsonparser takes it
		{`[1,]`, `open(,true,0) =1 close(4) `},
	} {
		var r recorder
		if _, err := Walk([]byte(c.in), 0, &r); err != nil {
			t.Errorf("%s: %v", c.in, err)
		}
		if got := r.b.String(); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		in    string
		depth int
		want  string
	}{
		{`{"a":"b`, 0, "unterminated string at byte 5"},
		{`{"a":[}`, 0, `unexpected '}' at byte 6`},
		{`]`, 0, `unexpected ']' at byte 0`},
		{`{"a":{`, 0, "unexpected end of JSON at byte 6"},
		{`[[[1]]]`, 2, "JSON nested more than 2 levels deep at byte 2"},
		{`{"a":"b" "c":"d"}`, 0, "unexpected string at byte 9"},
		{`{"a" 1}`, 0, "unexpected '1' at byte 5"},
		{`[1 2]`, 0, "unexpected '2' at byte 3"},
		{`{,}`, 0, "unexpected ',' at byte 1"},
		{`{"a"}`, 0, "unexpected '}' at byte 4"},
		{`[:]`, 0, "unexpected ':' at byte 1"},
	} {
		_, err := Walk([]byte(c.in), c.depth, &recorder{})
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: %v, want %s", c.in, err, c.want)
		}
	}
	// A million levels: no recursion, so no stack to run out of.
	deep := strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000)
	if n, err := Walk([]byte(deep), 0, nopVisitor{}); err != nil || n != len(deep) {
		t.Fatalf("deep: %d, %v", n, err)
	}
}

type nopVisitor struct{}

func (nopVisitor) Open([]byte, bool, int) error { return nil }
func (nopVisitor) Close(int) error              { return nil }
func (nopVisitor) Scalar(_, _ []byte) error     { return nil }

// FuzzWalk: Walk never panics, accepts every valid JSON document, and
// reports balanced opens and closes.
func FuzzWalk(f *testing.F) {
	f.Add([]byte(`{"a":[1,"x",{"b\n":null}],"c":{}}`))
	f.Add([]byte(`"\\"`))
	f.Add([]byte(`[1e5,-0.5,true]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c counter
		_, err := Walk(b, 0, &c)
		if json.Valid(b) && err != nil {
			t.Fatalf("valid JSON refused: %v", err)
		}
		if err == nil && c.open != c.close {
			t.Fatalf("%d opens, %d closes", c.open, c.close)
		}
	})
}

type counter struct{ open, close int }

func (c *counter) Open([]byte, bool, int) error { c.open++; return nil }
func (c *counter) Close(int) error              { c.close++; return nil }
func (c *counter) Scalar(_, _ []byte) error     { return nil }

// A toy schema: a request of groups (containers) of items (records) with
// tags (plain) and a nested value.
var (
	tValue = &Shape{Name: "Value", Kind: Nested, Cost: 16}
	tTag   = &Shape{Name: "Tag", Cost: 32}
	tItem  = &Shape{Name: "Item", Kind: Record, Cost: 100}
	tGroup = &Shape{Name: "Group", Kind: Container, Cost: 64}
	tReq   = &Shape{Name: "Request"}
	tMap   = &Shape{Name: "Map", MemberCost: 48}
)

func init() {
	tValue.Fields = []Field{Message(1, "inner_value", tValue)}
	tItem.Fields = []Field{Repeated(1, "tags", tTag), Message(2, "value", tValue), Message(3, "labels", tMap)}
	tGroup.Fields = []Field{Repeated(1, "items", tItem)}
	tReq.Fields = []Field{Repeated(1, "groups", tGroup), Strings(2, "names", 16)}
}

func pb(num protowire.Number, msg []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), msg)
}

func limits() Limits {
	return Limits{What: "toy", Records: "items", MaxRecords: 3, RecordsLimit: "toy.max", RecordsReason: ingest.ReasonTooManyLines, MaxDepth: 3, MaxJSONDepth: 12}
}

// TestChecks runs the same bodies as protobuf and JSON through the
// checks: counts, empty containers, depth and memory.
func TestChecks(t *testing.T) {
	item := pb(1, pb(1, nil)) // an item with one empty tag
	for _, c := range []struct {
		name    string
		pb      []byte
		js      string
		records int
		cost    int64
		reason  ingest.Reason
	}{
		{"two items", pb(1, append(pb(1, item), pb(1, item)...)), `{"groups":[{"items":[{"tags":[{}]},{"tags":[{}]}]}]}`, 2, 64 + 2*32, ""},
		{"empty groups count", append(pb(1, nil), pb(1, pb(1, nil))...), `{"groups":[{},{"items":[{}]}]}`, 2, 128, ""},
		{"four records", append(pb(1, append(pb(1, nil), pb(1, nil)...)), append(pb(1, nil), pb(1, nil)...)...), `{"groups":[{"items":[{},{}]},{},{}]}`, 4, 0, ingest.ReasonTooManyLines},
		{"depth 3", pb(1, pb(1, pb(2, pb(1, pb(1, nil))))), `{"groups":[{"items":[{"value":{"innerValue":{"inner_value":{}}}}]}]}`, 1, 64 + 3*16, ""},
		{"depth 4", pb(1, pb(1, pb(2, pb(1, pb(1, pb(1, nil)))))), `{"groups":[{"items":[{"value":{"innerValue":{"innerValue":{"innerValue":{}}}}}]}]}`, 0, 0, ingest.ReasonTooDeep},
		{"strings", append(pb(2, []byte("a")), pb(2, nil)...), `{"names":["a",""]}`, 0, 2 * 16, ""},
	} {
		for _, isJSON := range []bool{false, true} {
			var tally Tally
			var err error
			if isJSON {
				tally, err = JSON([]byte(c.js), Message(0, "", tReq), limits())
			} else {
				tally, err = Proto(c.pb, tReq, limits())
			}
			if c.reason != "" {
				if ingest.ReasonOf(err) != c.reason {
					t.Errorf("%s (json %v): %v, want %s", c.name, isJSON, err, c.reason)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s (json %v): %v", c.name, isJSON, err)
				continue
			}
			if tally.Records != c.records || tally.Cost != c.cost {
				t.Errorf("%s (json %v): %+v, want %d records costing %d", c.name, isJSON, tally, c.records, c.cost)
			}
		}
	}
	// A map's members, in JSON.
	if tally, err := JSON([]byte(`{"groups":[{"items":[{"labels":{"a":"b","c":"d"}}]}]}`), Message(0, "", tReq), limits()); err != nil || tally.Cost != 64+2*48 {
		t.Errorf("members: %+v, %v", tally, err)
	}
	// JSON's own depth, and its broken structure.
	if _, err := JSON([]byte(strings.Repeat("[", 13)), Message(0, "", tReq), limits()); ingest.ReasonOf(err) != ingest.ReasonTooDeep {
		t.Errorf("13 brackets: %v", err)
	}
	if _, err := JSON([]byte(`{"groups":[{]}`), Message(0, "", tReq), limits()); ingest.ReasonOf(err) != ingest.ReasonMalformed || !strings.Contains(err.Error(), "decode toy") {
		t.Errorf("broken: %v", err)
	}
	// Memory: empty tags past 8 times the body plus the allowance.
	many := pb(1, pb(1, []byte(strings.Repeat("\x0a\x00", Allowance/8))))
	if _, err := Proto(many, tReq, limits()); ingest.ReasonOf(err) != ingest.ReasonBodyTooLarge || !strings.Contains(err.Error(), "empty or near-empty") {
		t.Errorf("empty tags: %v", err)
	}
	// Invalid protobuf is refused, even where a decoder would skip it
	// (an overlong varint in an unknown field) and go on to decode what
	// follows uncounted.
	for _, b := range [][]byte{
		{0x0a, 0x05, 0x00},
		append([]byte{0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, pb(1, nil)...),
	} {
		if _, err := Proto(b, tReq, limits()); ingest.ReasonOf(err) != ingest.ReasonMalformed || !strings.Contains(err.Error(), "not valid protobuf") {
			t.Errorf("% x: %v", b, err)
		}
	}
	// A null in an array of messages is an empty message to the decoders.
	if tally, err := JSON([]byte(`{"groups":[null,{"items":[null,{}]}]}`), Message(0, "", tReq), limits()); err != nil || tally.Records != 3 || tally.Cost != 128 {
		t.Errorf("nulls: %+v, %v", tally, err)
	}
}

// FuzzChecks: the checks never panic, on any bytes, as protobuf and JSON.
func FuzzChecks(f *testing.F) {
	f.Add([]byte(`{"groups":[{"items":[{"tags":[{}],"value":{"innerValue":{}}}]}]}`))
	f.Add(pb(1, pb(1, pb(2, pb(1, nil)))))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Proto(b, tReq, limits())
		_, _ = JSON(b, Message(0, "", tReq), limits())
		_, _ = JSON(b, Repeated(0, "", tItem), limits())
	})
}
