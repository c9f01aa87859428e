package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// rangeCommands are the logcli commands that take --from and --to.
var rangeCommands = map[string]bool{"query": true, "labels": true, "series": true, "stats": true,
	"volume": true, "volume_range": true, "detected-fields": true}

// runLogcli runs a logcli case against both servers: its arguments, then
// --addr, --org-id, --quiet and the window (--from/--to, or --now for
// instant-query), in UTC. The outputs and exit statuses must be equal.
func runLogcli(bin string, k Case, w window, loki, horus *server) result {
	args := logcliArgs(k.Text)
	if len(args) == 0 {
		return result{lines: []string{"bad case: no logcli command"}}
	}
	extra := []string{"--quiet"}
	switch {
	case rangeCommands[args[0]]:
		extra = append(extra, "--from="+w.start.UTC().Format(time.RFC3339Nano), "--to="+w.end.UTC().Format(time.RFC3339Nano))
	case args[0] == "instant-query":
		extra = append(extra, "--now="+w.end.UTC().Format(time.RFC3339Nano))
	}
	runOne := func(s *server) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		full := append([]string{args[0], "--addr=" + s.base, "--org-id=" + s.tenant}, extra...)
		full = append(full, args[1:]...)
		cmd := exec.CommandContext(ctx, bin, full...)
		cmd.Env = append(os.Environ(), "TZ=UTC")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			return err.Error(), -1
		}
		return strings.ReplaceAll(out.String(), s.base, "<addr>"), code
	}
	lo, lc := runOne(loki)
	ho, hc := runOne(horus)
	if lc != hc {
		return result{lines: []string{fmt.Sprintf("exit status: loki %d, horus %d", lc, hc),
			"loki:  " + short(firstLineS(lo)), "horus: " + short(firstLineS(ho))}}
	}
	if lc != 0 {
		return result{agree: true, refused: true}
	}
	if lo == ho {
		return result{agree: true}
	}
	return result{lines: lineDiff(lo, ho, 6)}
}

func firstLineS(s string) string { return string(firstLine([]byte(s))) }

// lineDiff lists up to max lines that only one output has, in order.
func lineDiff(a, b string, max int) []string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	count := map[string]int{}
	for _, l := range bl {
		count[l]++
	}
	var out []string
	for _, l := range al {
		if count[l] > 0 {
			count[l]--
			continue
		}
		out = append(out, "only loki:  "+short(l))
	}
	count = map[string]int{}
	for _, l := range al {
		count[l]++
	}
	for _, l := range bl {
		if count[l] > 0 {
			count[l]--
			continue
		}
		out = append(out, "only horus: "+short(l))
	}
	if len(out) == 0 {
		out = []string{"the same lines in another order"}
	}
	if len(out) > max {
		out = append(out[:max], fmt.Sprintf("... (%d lines differ)", len(out)))
	}
	return out
}
