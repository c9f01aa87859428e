package loki

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"golang.org/x/net/websocket"

	"github.com/horus-obs/horus/internal/httpx"
	"github.com/horus-obs/horus/internal/query/logql"
)

// tail serves /loki/api/v1/tail: a websocket on which the lines of a log
// query are sent as they arrive, as Loki's tail and Grafana's live
// streaming use it. The first message has the newest `limit` lines since
// start (default an hour ago); then, each poll interval, the lines newer
// than the last sent and older than delay_for seconds. A message is
// {"streams":[{"stream":{labels},"values":[["<ns>","line"],...]}]}
// (Loki writes dropped_entries only when it dropped some, which Horus
// never does: EncodeTailResult, pkg/util/marshal/query.go); with the
// encoding flag categorize-labels, as a query answers it (see
// tailMessage).
func (a *API) tail(w http.ResponseWriter, r *http.Request) {
	t, ok := httpx.Tenant(w, r)
	if !ok {
		return
	}
	q, err := logql.Parse(r.FormValue("query"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	le, ok := q.(*logql.LogExpr)
	if !ok {
		http.Error(w, "tail needs a log query, not a metric query", http.StatusBadRequest)
		return
	}
	limit, err := a.limit(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	delay := time.Duration(0)
	if v := r.FormValue("delay_for"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 5 {
			http.Error(w, "invalid delay_for "+strconv.Quote(v)+": want seconds from 0 to 5", http.StatusBadRequest)
			return
		}
		delay = time.Duration(n) * time.Second
	}
	now := a.opts.Now()
	start, err := parseTime("start", r.FormValue("start"), now.Add(-time.Hour))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// Browsers send an Origin; Grafana's backend and logcli may not. The
	// API has no cookies to protect, so any origin is accepted.
	srv := websocket.Server{
		Handshake: func(*websocket.Config, *http.Request) error { return nil },
		Handler: func(ws *websocket.Conn) {
			defer func() { _ = ws.Close() }()
			a.tailLoop(r.Context(), ws, t, le, start, limit, delay, encodingFlags(r))
		},
	}
	srv.ServeHTTP(w, r)
}

func (a *API) tailLoop(ctx context.Context, ws *websocket.Conn, tenant string, q *logql.LogExpr, start time.Time, limit int, delay time.Duration, flags []string) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The client sends nothing; a read returns when it goes away.
	go func() {
		var b [64]byte
		for {
			if _, err := ws.Read(b[:]); err != nil {
				cancel()
				return
			}
		}
	}()
	from := start
	first := true
	ticker := time.NewTicker(a.opts.TailInterval)
	defer ticker.Stop()
	for {
		to := a.opts.Now().Add(-delay)
		if !to.Before(from) {
			// The first poll: the newest lines; then the oldest not sent.
			p := logql.Params{Tenant: tenant, Start: from, End: to, Limit: limit, Forward: !first}
			qctx, qcancel := context.WithTimeout(ctx, a.opts.Timeout)
			res, err := a.engine.Exec(qctx, q, p)
			qcancel()
			if err != nil {
				if ctx.Err() == nil {
					_ = websocket.JSON.Send(ws, map[string]any{"error": err.Error()})
					a.logger.Warn("Loki API: tail query failed", "err", err)
				}
				return
			}
			msg, newest, n := tailMessage(res, flags)
			if n > 0 {
				if err := websocket.JSON.Send(ws, msg); err != nil {
					return
				}
			}
			// The end is inclusive: the next poll starts past it, or
			// past the newest line sent when the limit cut the poll.
			from = to.Add(time.Nanosecond)
			if !first && n == limit {
				from = time.Unix(0, newest+1)
			}
			first = false
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// tailMessage makes a tail message of a log query's result, lines oldest
// first in each stream, and returns the newest line's time and the line
// count. flags are the request's encoding flags: with categorize-labels,
// streams are by stream labels and lines carry their structured metadata
// and parsed labels, and the message lists the flags, as Loki's tail
// (pkg/querier/tail/tail.go wraps its entries in
// iter.NewCategorizeLabelsIterator; pkg/util/marshal/query.go,
// EncodeTailResult, writes "encodingFlags").
func tailMessage(res *logql.Result, flags []string) (msg map[string]any, newest int64, n int) {
	cat := slices.Contains(flags, flagCategorizeLabels)
	streams := []jsonStream{}
	for _, s := range groupStreams(res.Streams, cat) {
		s.Entries = slices.Clone(s.Entries)
		sort.SliceStable(s.Entries, func(i, j int) bool { return s.Entries[i].T < s.Entries[j].T })
		for _, e := range s.Entries {
			newest = max(newest, e.T)
			n++
		}
		streams = append(streams, encodeStream(s, cat))
	}
	msg = map[string]any{"streams": streams}
	if len(flags) > 0 {
		msg["encodingFlags"] = flags
	}
	return msg, newest, n
}
