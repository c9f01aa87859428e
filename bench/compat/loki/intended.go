package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// The classes of a difference: one Horus means to have (its reason is
// in docs/loki.md), or a known bug of Horus not yet fixed. A difference
// that is neither is unexplained, and makes the harness exit 1.
const (
	classIntended = "intended"
	classBug      = "bug"
)

// Explanation is one line of the explanations file (intended.txt): a
// kind of difference (as classify names it), or one case by its
// category and text, with its class and reason.
type Explanation struct {
	Line   int    // line in the file, from 1
	Class  string // classIntended or classBug
	Kind   string // a kind's id, or "" for a case
	Case   string // "<category> <case text>", or "" for a kind
	Reason string
}

// Explanations are the explanations file's entries by kind id and case.
type Explanations struct {
	Kinds map[string]Explanation
	Cases map[string]Explanation
}

// ParseExplanations reads an explanations file: blank lines and lines
// starting with # are skipped; every other line is
//
//	<class> kind <kind id>: <reason>
//	<class> case <category> <case text as in the corpus> :: <reason>
//
// with class intended or bug; a case's reason follows the last " :: ". A kind entry names a kind the harness
// knows (kinds); a case is keyed by its category and text, so that it
// survives lines added to the corpus. An unknown class, kind or
// category, a missing reason, or an entry given twice is an error naming
// the line.
func ParseExplanations(r io.Reader) (*Explanations, error) {
	ex := &Explanations{Kinds: map[string]Explanation{}, Cases: map[string]Explanation{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		class, rest, _ := strings.Cut(line, " ")
		if class != classIntended && class != classBug {
			return nil, fmt.Errorf("explanations line %d: class %q: want %s or %s", n, class, classIntended, classBug)
		}
		what, rest, _ := strings.Cut(strings.TrimSpace(rest), " ")
		e := Explanation{Line: n, Class: class}
		switch what {
		case "kind":
			id, reason, ok := strings.Cut(rest, ":")
			id = strings.TrimSpace(id)
			if !ok || kindByID(id) < 0 {
				return nil, fmt.Errorf("explanations line %d: unknown kind %q", n, id)
			}
			e.Kind, e.Reason = id, strings.TrimSpace(reason)
		case "case":
			// The last " :: ": a logcli case's text has one of its own.
			i := strings.LastIndex(rest, " :: ")
			if i < 0 {
				return nil, fmt.Errorf("explanations line %d: want case <category> <text> :: <reason>", n)
			}
			c, reason := rest[:i], rest[i+4:]
			cat, text, _ := strings.Cut(strings.TrimSpace(c), " ")
			if !validCategory(cat) || strings.TrimSpace(text) == "" {
				return nil, fmt.Errorf("explanations line %d: want case <category> <text> :: <reason>", n)
			}
			e.Case, e.Reason = caseKey(cat, text), strings.TrimSpace(reason)
		default:
			return nil, fmt.Errorf("explanations line %d: want kind or case after the class, got %q", n, what)
		}
		if e.Reason == "" {
			return nil, fmt.Errorf("explanations line %d: no reason", n)
		}
		m, key := ex.Kinds, e.Kind
		if e.Case != "" {
			m, key = ex.Cases, e.Case
		}
		if prev, dup := m[key]; dup {
			return nil, fmt.Errorf("explanations line %d: %q is explained on line %d already", n, key, prev.Line)
		}
		m[key] = e
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read explanations: %w", err)
	}
	return ex, nil
}

// caseKey is a case's key in the explanations: its category and text.
func caseKey(category, text string) string {
	return category + " " + strings.TrimSpace(text)
}

// Explain classes a differing case: by its own entry if it has one,
// else by the kinds its differences show (kind ids), each of which must
// have an entry; a bug among them makes the case a bug. It returns the
// class ("" when unexplained) and the reasons.
func (ex *Explanations) Explain(k Case, kindIDs []string) (string, []string) {
	if e, ok := ex.Cases[caseKey(k.Category, k.Text)]; ok {
		return e.Class, []string{e.Reason}
	}
	if len(kindIDs) == 0 {
		return "", nil
	}
	class := classIntended
	var reasons []string
	for _, id := range kindIDs {
		e, ok := ex.Kinds[id]
		if !ok {
			return "", nil
		}
		if e.Class == classBug {
			class = classBug
		}
		reasons = append(reasons, e.Reason)
	}
	return class, reasons
}
