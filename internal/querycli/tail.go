package querycli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"golang.org/x/net/websocket"

	"github.com/horus-obs/horus/internal/query/logql"
	"github.com/horus-obs/horus/internal/tenant"
)

// tailLogs follows a log query over /loki/api/v1/tail's websocket: first
// the newest lines since --since (--from; the server's default is an
// hour), then new lines as they arrive, until ctx ends (an interrupt),
// which is a success. A table line is the time, the stream's labels but
// those the selector fixes with =, and the line; -o json prints each
// message of the API as one line; -o csv time, labels and line.
func (c *queryCmd) tailLogs(ctx context.Context, expr string) error {
	if c.at.set || c.to.set || c.step.set {
		return usagef("--tail follows new lines: --since or --from say where it starts; --time, --to and --step do not apply")
	}
	params := url.Values{"query": {expr}}
	if c.since.set || c.from.set {
		params.Set("start", unixNanos(c.start))
	}
	if c.limit > 0 {
		params.Set("limit", strconv.Itoa(c.limit))
	}
	base := c.base()
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/loki/api/v1/tail?" + params.Encode()
	if c.verbose {
		fmt.Fprintln(c.stderr, "GET", wsURL)
	}
	cfg, err := websocket.NewConfig(wsURL, base)
	if err != nil {
		return err
	}
	if c.tenant != "" {
		cfg.Header.Set(tenant.Header, c.tenant)
	}
	ws, err := cfg.DialContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		// The handshake's error hides the API's message; the same
		// request without the upgrade gets it.
		if _, gerr := c.get(ctx, "/loki/api/v1/tail", params, ""); gerr != nil {
			return gerr
		}
		return fmt.Errorf("tail: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	defer func() {
		stop()
		_ = ws.Close()
	}()
	fixed := selectorLabels(expr)
	var cw *csv.Writer
	if c.format == outCSV {
		cw = csv.NewWriter(c.stdout)
		_ = cw.Write([]string{"time", "labels", "line"})
		cw.Flush()
	}
	for {
		var msg []byte
		if err := websocket.Message.Receive(ws, &msg); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("tail: the connection ended: %w", err)
		}
		if err := c.tailMessage(msg, fixed, cw); err != nil {
			return err
		}
	}
}

// tailMessage prints one message of the tail websocket.
func (c *queryCmd) tailMessage(msg []byte, fixed map[string]string, cw *csv.Writer) error {
	if c.format == outJSON {
		_, err := fmt.Fprintf(c.stdout, "%s\n", strings.TrimSpace(string(msg)))
		return err
	}
	var m struct {
		Streams json.RawMessage `json:"streams"`
		Dropped []struct {
			Labels map[string]string `json:"labels"`
		} `json:"dropped_entries"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return fmt.Errorf("tail: decoding a message: %w", err)
	}
	if len(m.Dropped) > 0 {
		fmt.Fprintf(c.stderr, "warning: the server dropped %d lines\n", len(m.Dropped))
	}
	if len(m.Streams) == 0 {
		return nil
	}
	streams, lines, err := decodeStreams(m.Streams, false)
	if err != nil {
		return err
	}
	for _, l := range lines {
		ls := labelText(streams[l.stream], fixed)
		if cw != nil {
			_ = cw.Write([]string{csvTime(l.t), ls, l.line})
			continue
		}
		if _, err := fmt.Fprintf(c.stdout, "%s  %s  %s\n", c.tableTime(l.t), ls, cellText(l.line)); err != nil {
			return err
		}
	}
	if cw != nil {
		cw.Flush()
		return cw.Error()
	}
	return nil
}

// selectorLabels are the labels a log query's selector fixes with =:
// every line of the tail has them, so it does not print them.
func selectorLabels(expr string) map[string]string {
	e, err := logql.Parse(expr)
	out := map[string]string{}
	le, ok := e.(*logql.LogExpr)
	if err != nil || !ok {
		return out
	}
	for _, m := range le.Matchers {
		if m.Type == labels.MatchEqual {
			out[m.Name] = m.Value
		}
	}
	return out
}
