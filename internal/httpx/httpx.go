// Package httpx holds small net/http helpers shared by the ingest and query
// APIs.
package httpx

import "net/http"

// StatusWriter is an http.ResponseWriter that remembers the status code.
type StatusWriter struct {
	http.ResponseWriter
	code int
}

// WriteHeader implements http.ResponseWriter.
func (w *StatusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Code returns the status written, 200 if none was.
func (w *StatusWriter) Code() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Flush implements http.Flusher when the underlying writer does.
func (w *StatusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
