// Package shape checks the shape of a request body before it is decoded:
// how deeply its values nest, how many records it holds, and how much
// memory decoding it would take.
//
// Decoders made by code generators (pdata for OTLP, gogo protobuf for
// Loki's push and remote write 2.0, encoding/json) make one struct for
// every message of the body before Horus sees any: two bytes of protobuf
// (0a 00, an empty message) or three of JSON ({},) become a struct of 50
// to 250 bytes, and a nested value becomes a frame of recursion. A body
// within the decoded-size limit could so take gigabytes, or the stack.
// Proto and JSON walk the body first, without recursion into client data
// and without allocating per message, following a Shape (which fields hold
// which messages), and refuse it when:
//
//   - a value nests deeper than Limits.MaxDepth (Nested shapes: OTLP's
//     AnyValue), or the JSON deeper than Limits.MaxJSONDepth: a 400 with
//     ingest.ReasonTooDeep;
//   - it holds more than Limits.MaxRecords records (spans, log records,
//     data points, Loki entries, remote-write series), an empty container
//     (an OTLP ResourceSpans or ScopeSpans without spans, a Loki stream
//     without entries) counting as one: a 413 with Limits.RecordsReason;
//   - its other messages (attributes, values, events, links, containers,
//     samples...) would take more than MaxAmplification times the body's
//     decoded bytes plus Allowance, by the Cost of each Shape: a 413 with
//     ingest.ReasonBodyTooLarge.
//
// So the memory a request takes to decode is bounded by MaxRecords records
// plus a small multiple of its bytes. Walk is the JSON reader the checks
// use, also for decoders that flatten JSON themselves (JSON lines).
package shape

import (
	"errors"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/horus-obs/horus/internal/ingest"
)

// MaxDepth is how deeply Horus lets JSON nest in data it flattens or
// parses itself: a JSON lines object (its objects and arrays), a Zipkin or
// Loki push body, and a stored line under LogQL's json stage. Real logs
// nest a handful of levels; 64 leaves room and keeps a flattened key (one
// part a level) and the work per line small.
const MaxDepth = 64

// MaxRecordsPerRequest bounds the records of one request where no
// configured limit applies: spans (OTLP, Zipkin), OTLP metric data points,
// remote-write 2.0 series, and log records when
// limits.max_log_lines_per_request is 0. It is the default of that limit,
// 25 times the OpenTelemetry Collector's default batch and 100 times
// Prometheus' default remote-write batch.
const MaxRecordsPerRequest = 200_000

// MaxAmplification bounds the memory that decoding the messages of a body
// other than its records may take, as a multiple of the body's decoded
// bytes (plus Allowance). Real data takes 1 to 4 times its protobuf size
// in decoded structs; empty or near-empty messages, 10 to 80 times.
const MaxAmplification = 8

// Allowance is the memory decoding a body may take besides
// MaxAmplification times its size, in bytes, so that small bodies of
// small messages (an attribute array of small integers) are never refused.
const Allowance = 16 << 20

// Kind says how Proto and JSON count a message.
type Kind uint8

// The kinds of messages.
const (
	// Plain messages are counted by their Cost.
	Plain Kind = iota
	// Record messages (a span, a log record) are counted against
	// Limits.MaxRecords, not by Cost.
	Record
	// Container messages are counted by their Cost; one that holds no
	// Record (at any depth) counts as one against Limits.MaxRecords.
	Container
	// Nested messages are counted by their Cost and their nesting: one
	// inside another deeper than Limits.MaxDepth is refused.
	Nested
)

// Shape describes a protobuf message, and its JSON form, for Proto and
// JSON: the fields that hold messages (others are skipped), and what a
// message of the shape costs. Shapes may refer to each other in cycles.
type Shape struct {
	// Name names the message in errors (ResourceSpans).
	Name string
	// Kind says how it is counted.
	Kind Kind
	// Cost is the heap one decoded message takes, in bytes: its struct
	// (rounded to Go's size class) and its slot in the parent's slice.
	Cost int
	// Fields are the fields that hold messages or costed strings.
	Fields []Field
	// Any, in JSON only, is what a value that no field names stands for:
	// one under another key, or an element when the message is written
	// as a JSON array (a Loki push entry); nil: such values are not
	// counted.
	Any *Field
	// MemberCost, in JSON only, is the cost of each scalar member of an
	// object of this shape, for messages decoded as maps (Zipkin tags,
	// Loki labels), in bytes.
	MemberCost int
}

// Field is a field of a Shape.
type Field struct {
	// Num is the protobuf field number.
	Num protowire.Number
	// Name is the protobuf field name (snake_case); JSON accepts it and
	// its lowerCamelCase form, as protojson and pdata do.
	Name string
	// Shape is the message the field holds; nil for a field of strings
	// or bytes costed by ElemCost.
	Shape *Shape
	// Repeated says the field is a list: in JSON, an array of messages.
	Repeated bool
	// ElemCost is the heap of each occurrence of a field without Shape
	// (a repeated string's header), in bytes.
	ElemCost int

	camel string
}

// Message is a singular message field.
func Message(num protowire.Number, name string, s *Shape) Field {
	return Field{Num: num, Name: name, Shape: s, camel: lowerCamel(name)}
}

// Repeated is a repeated message field.
func Repeated(num protowire.Number, name string, s *Shape) Field {
	return Field{Num: num, Name: name, Shape: s, Repeated: true, camel: lowerCamel(name)}
}

// Strings is a repeated string or bytes field whose every element costs
// cost bytes.
func Strings(num protowire.Number, name string, cost int) Field {
	return Field{Num: num, Name: name, Repeated: true, ElemCost: cost, camel: lowerCamel(name)}
}

// lowerCamel is protojson's JSON name of a snake_case field name.
func lowerCamel(s string) string {
	out := make([]byte, 0, len(s))
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			upper = true
			continue
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		upper = false
		out = append(out, c)
	}
	return string(out)
}

func (s *Shape) protoField(num protowire.Number) *Field {
	for i := range s.Fields {
		if s.Fields[i].Num == num {
			return &s.Fields[i]
		}
	}
	return nil
}

func (s *Shape) jsonField(key []byte) *Field {
	for i := range s.Fields {
		if f := &s.Fields[i]; string(key) == f.Name || string(key) == f.camel {
			return f
		}
	}
	return nil
}

// Limits bound what Proto and JSON accept of a body, and name what the
// errors speak of. Zero limits do not apply.
type Limits struct {
	// What names the body in errors: "OTLP logs".
	What string
	// Records names the records in errors: "log records".
	Records string
	// MaxRecords bounds the records (and empty containers).
	MaxRecords int
	// RecordsLimit names the limit in errors:
	// "limits.max_log_lines_per_request".
	RecordsLimit string
	// RecordsReason is the reason of the refusal for too many records:
	// ingest.ReasonTooManyLines for logs, else ingest.ReasonBodyTooLarge
	// (both answered 413).
	RecordsReason ingest.Reason
	// MaxDepth bounds the nesting of Nested messages.
	MaxDepth int
	// MaxJSONDepth bounds the nesting of JSON objects and arrays.
	MaxJSONDepth int
	// NoEmptyNames refuses a JSON member named "", for decoders built on
	// jsoniter's ReadObject (pdata's), which returns "" for the end of an
	// object: such a decoder leaves the object there and reads the rest
	// of the document out of step, so that a body could hide millions of
	// messages from the check.
	NoEmptyNames bool
}

// Tally is what a check counted of a body.
type Tally struct {
	// Records counts the records and the empty containers.
	Records int
	// Messages counts every message.
	Messages int
	// Cost estimates the heap of the messages other than records, in
	// bytes.
	Cost int64
}

// tally counts a body's messages against its limits.
type tally struct {
	Tally
	l      *Limits
	budget int64
	depth  int // Nested messages open
	levels int // messages open (protobuf)
	size   int
}

func newTally(l *Limits, size int) *tally {
	return &tally{l: l, size: size, budget: int64(MaxAmplification)*int64(size) + Allowance}
}

func (t *tally) enter(s *Shape) error {
	t.Messages++
	switch s.Kind {
	case Record:
		return t.record()
	case Nested:
		if t.depth++; t.l.MaxDepth > 0 && t.depth > t.l.MaxDepth {
			return ingest.Errorf(ingest.ReasonTooDeep, "%s: a value nests more than %d levels deep (%s in %s in ...), the limit", t.l.What, t.l.MaxDepth, s.Name, s.Name)
		}
	}
	return t.cost(s.Cost)
}

// exit ends a message entered when Records was mark.
func (t *tally) exit(s *Shape, mark int) error {
	switch s.Kind {
	case Nested:
		t.depth--
	case Container:
		if t.Records == mark {
			return t.record()
		}
	}
	return nil
}

func (t *tally) record() error {
	if t.Records++; t.l.MaxRecords > 0 && t.Records > t.l.MaxRecords {
		return ingest.Errorf(t.l.RecordsReason, "%s: more than %d %s in one request (a container without any counts as one), the limit (%s); send smaller batches",
			t.l.What, t.l.MaxRecords, t.l.Records, t.l.RecordsLimit)
	}
	return nil
}

func (t *tally) cost(n int) error {
	if t.Cost += int64(n); t.Cost > t.budget {
		return ingest.Errorf(ingest.ReasonBodyTooLarge, "%s: decoding the %d-byte body would take more than %d MiB for its first %d messages, more than %d times its size: it is made of empty or near-empty items (attributes, values, containers); send them filled, or fewer",
			t.l.What, t.size, t.budget>>20, t.Messages, MaxAmplification)
	}
	return nil
}

// Proto checks a protobuf body whose top message is root. It returns what
// it counted and an *ingest.Error when a limit is passed or the body is
// not valid protobuf: the decoders let some invalid protobuf through
// (gogo skips an overlong varint in an unknown field), and what follows
// would go uncounted.
func Proto(b []byte, root *Shape, l Limits) (Tally, error) {
	t := newTally(&l, len(b))
	err := t.proto(b, root)
	return t.Tally, err
}

// malformed is the error of invalid protobuf, n protowire's negative
// length.
func (t *tally) malformed(n int) error {
	return ingest.Errorf(ingest.ReasonMalformed, "decode %s: not valid protobuf: %v", t.l.What, protowire.ParseError(n))
}

// proto walks the fields of one message of shape s. Its recursion follows
// the shapes, so it is bounded by the shapes' nesting and MaxDepth.
func (t *tally) proto(b []byte, s *Shape) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return t.malformed(n)
		}
		b = b[n:]
		f := s.protoField(num)
		if f == nil || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return t.malformed(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return t.malformed(n)
		}
		b = b[n:]
		if f.Shape == nil {
			if err := t.cost(f.ElemCost); err != nil {
				return err
			}
			continue
		}
		if t.levels++; t.levels > maxLevels {
			return ingest.Errorf(ingest.ReasonTooDeep, "%s: messages nest more than %d levels deep", t.l.What, maxLevels)
		}
		if err := t.enter(f.Shape); err != nil {
			return err
		}
		mark := t.Records
		if err := t.proto(v, f.Shape); err != nil {
			return err
		}
		if err := t.exit(f.Shape, mark); err != nil {
			return err
		}
		t.levels--
	}
	return nil
}

// maxLevels bounds the recursion of a protobuf walk whatever the shapes
// and limits: far beyond any real message's nesting.
const maxLevels = 1000

// JSON checks a JSON body whose top value is described by top: a Message
// field for an object, a Repeated one for an array (names are not used).
// It returns what it counted and an *ingest.Error when a limit is passed
// or the JSON's structure is broken (then no decoder could read it).
func JSON(b []byte, top Field, l Limits) (Tally, error) {
	t := newTally(&l, len(b))
	s := &jsonScan{t: t}
	s.frames = append(s.frames, frame{msg: &Shape{Any: &top}})
	if _, err := Walk(b, l.MaxJSONDepth, s); err != nil {
		var je *JSONError
		if errors.As(err, &je) {
			if je.Depth > 0 {
				return t.Tally, ingest.Errorf(ingest.ReasonTooDeep, "%s: %v, the limit", l.What, je)
			}
			return t.Tally, ingest.Errorf(ingest.ReasonMalformed, "decode %s: not valid JSON: %v", l.What, je)
		}
		return t.Tally, err
	}
	return t.Tally, nil
}

// jsonScan follows a JSON document's objects and arrays through shapes.
type jsonScan struct {
	t      *tally
	frames []frame
}

// frame is an open object or array.
type frame struct {
	msg     *Shape // it is a message of this shape
	elems   *Field // it is an array of this field's elements
	mark    int    // Records when the message began
	counted bool   // msg was entered in the tally
}

// Open implements Visitor: an object or array is a message when its key
// (or its array's) names a field of the message it stands in.
func (s *jsonScan) Open(key []byte, array bool, _ int) error {
	if err := s.name(key); err != nil {
		return err
	}
	p := &s.frames[len(s.frames)-1]
	var fr frame
	var f *Field
	switch {
	case p.elems != nil:
		if p.elems.Shape != nil {
			fr.msg = p.elems.Shape
		}
	case p.msg != nil:
		if key != nil {
			f = p.msg.jsonField(key)
		}
		if f == nil {
			f = p.msg.Any
		}
	}
	if f != nil {
		switch {
		case f.Repeated && array:
			fr.elems = f
		case !f.Repeated && f.Shape != nil:
			fr.msg = f.Shape
		}
	}
	if fr.msg != nil {
		if err := s.t.enter(fr.msg); err != nil {
			return err
		}
		fr.mark, fr.counted = s.t.Records, true
	}
	s.frames = append(s.frames, fr)
	return nil
}

// name refuses an empty member name when the limits say so.
func (s *jsonScan) name(key []byte) error {
	if key != nil && len(key) == 0 && s.t.l.NoEmptyNames {
		return ingest.Errorf(ingest.ReasonMalformed, "decode %s: a member name is empty, which the decoder takes for the end of its object", s.t.l.What)
	}
	return nil
}

// Close implements Visitor.
func (s *jsonScan) Close(int) error {
	fr := s.frames[len(s.frames)-1]
	s.frames = s.frames[:len(s.frames)-1]
	if fr.counted {
		return s.t.exit(fr.msg, fr.mark)
	}
	return nil
}

// Scalar implements Visitor: a member of a map, or an element of a
// field of strings, costs; so does an element of a field of messages (the
// decoders make an empty message of a null).
func (s *jsonScan) Scalar(key, _ []byte) error {
	if err := s.name(key); err != nil {
		return err
	}
	p := &s.frames[len(s.frames)-1]
	switch {
	case p.elems != nil && p.elems.Shape != nil:
		if err := s.t.enter(p.elems.Shape); err != nil {
			return err
		}
		return s.t.exit(p.elems.Shape, s.t.Records)
	case p.elems != nil:
		return s.t.cost(p.elems.ElemCost)
	case p.msg != nil:
		return s.t.cost(p.msg.MemberCost)
	}
	return nil
}
