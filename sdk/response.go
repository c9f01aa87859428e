package sdk

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// responseWriter records the first final status a handler answers. It
// passes every optional method on to the writer it wraps: Flush, Hijack,
// ReadFrom, WriteString and Push here, the others (deadlines, full duplex)
// through Unwrap, which http.ResponseController follows. Flush and
// Hijack answer as the wrapped writer does through
// http.ResponseController: http.ErrNotSupported (Flush: nothing) when it
// lacks the method, as an HTTP/2 connection lacks Hijack.
//
// One allocation per request, where httpsnoop.Wrap, which builds a type
// with exactly the wrapped writer's methods, takes about twenty.
type responseWriter struct {
	http.ResponseWriter
	status int // 0 until a final (>= 200) status is written
}

func (w *responseWriter) wrote(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
}

func (w *responseWriter) WriteHeader(code int) {
	w.wrote(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.wrote(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

func (w *responseWriter) WriteString(s string) (int, error) {
	w.wrote(http.StatusOK)
	return io.WriteString(w.ResponseWriter, s)
}

// ReadFrom keeps net/http's sendfile path for io.Copy into the response.
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	w.wrote(http.StatusOK)
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
}

func (w *responseWriter) FlushError() error {
	w.wrote(http.StatusOK)
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *responseWriter) Flush() { _ = w.FlushError() }

func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.wrote(http.StatusSwitchingProtocols)
	}
	return c, rw, err
}

func (w *responseWriter) Push(target string, opts *http.PushOptions) error {
	if p, ok := w.ResponseWriter.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}

// Unwrap gives http.ResponseController the wrapped writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
