package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// flush answers POST /flush: it writes every log and span head (current
// and cut) as blocks and answers 204 once they are on disk, as Loki's
// POST /flush (and VictoriaLogs' /internal/force_flush) does, for a backup
// or a copy of the data directory at a known point. Metrics are not
// flushed: their head lives in the TSDB's WAL, and the TSDB compacts it
// into blocks on its own schedule, as in Prometheus. A block that cannot
// be written is a 500 naming the cause; a client that goes away stops the
// wait (the writes still finish in the background).
func (s *Server) flush(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if err := s.events.Flush(r.Context()); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, r.Context().Err()) {
			status = 499 // the client closed the request, as nginx logs it
		}
		http.Error(w, fmt.Sprintf("flush: %v", err), status)
		return
	}
	s.logger.Info("flushed the log and span heads to blocks", "duration", time.Since(start))
	w.WriteHeader(http.StatusNoContent)
}
