package logging

import (
	"io"
	"log/slog"
)

// NewJSONHandler writes one JSON object per record to w: [NewHandler] over
// [slog.NewJSONHandler] at opts.Level. A line has slog's "time" (RFC 3339
// with nanoseconds), "level" (DEBUG, INFO, WARN, ERROR, or e.g. "INFO+2")
// and "msg", then the logger's attributes ([slog.Logger.With]), trace_id
// and span_id, the request fields, "source" on errors and the record's
// attributes, all at the top level unless in a group (see the package
// documentation for a line). w is written once per record; slog
// serialises the writes.
func NewJSONHandler(w io.Writer, opts Options) slog.Handler {
	level := opts.Level
	if level == nil {
		level = slog.LevelInfo
	}
	return NewHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}), opts)
}
