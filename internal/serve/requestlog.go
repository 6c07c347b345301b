package serve

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// maxLoggedRequests bounds the request log so that a long-running server does
// not grow without limit. Older entries are dropped first.
const maxLoggedRequests = 100_000

// Request is one served HTTP request as recorded in the request log.
type Request struct {
	Method string
	Path   string // URL path without the query
	Range  string // Range request header, empty if absent
	Status int
	Bytes  int64 // response body bytes written
}

// requestLog is a ring buffer of the most recent requests.
type requestLog struct {
	mu      sync.Mutex
	entries []Request
	next    int // index the next entry is written to once the buffer is full
}

func (l *requestLog) add(request Request) {
	l.mu.Lock()
	defer l.mu.Unlock()

	if len(l.entries) < maxLoggedRequests {
		l.entries = append(l.entries, request)
		return
	}
	l.entries[l.next] = request
	l.next = (l.next + 1) % maxLoggedRequests
}

// snapshot returns the entries oldest first.
func (l *requestLog) snapshot() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()

	out := make([]Request, 0, len(l.entries))
	out = append(out, l.entries[l.next:]...)
	out = append(out, l.entries[:l.next]...)
	return out
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()

	l.entries = nil
	l.next = 0
}

// Requests returns a copy of the request log, oldest first. The log keeps the
// last 100,000 requests.
func (s *Server) Requests() []Request {
	return s.requests.snapshot()
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.requests.reset()
}

// statusRecorder captures the status code and body size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(status int) {
	// Informational responses such as 100 Continue precede the final status,
	// and only the first final status reaches the client. A handler that
	// writes a second one (Distribution does after a client disconnects
	// mid-upload) would make net/http log a warning that names this type.
	if status >= 200 {
		if r.status != 0 {
			return
		}
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer for
// flushing and deadlines.
func (r *statusRecorder) Unwrap() http.ResponseWriter {
	return r.ResponseWriter
}

// observe wraps next so that every request is tagged with the server's
// instance id for Distribution's logger, recorded in the request log, and
// logged through slog when it fails. Only the method, path, Range header and
// status are logged, never other headers such as Authorization.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		recorder := &statusRecorder{ResponseWriter: w}
		r = r.WithContext(withInstanceID(r.Context(), s.instanceID))

		defer func() {
			recovered := recover()
			if recovered == http.ErrAbortHandler {
				// The handler asked net/http to abort the response, so
				// re-panic after recording it.
				s.record(r, recorder, started, nil)
				panic(recovered)
			}
			if recovered != nil {
				if recorder.status == 0 {
					http.Error(recorder, "internal server error", http.StatusInternalServerError)
				}
				// Headers may already be sent, so the client can see a
				// success status with a truncated body. Record a 500 either
				// way so the failure is visible in the log.
				recorder.status = http.StatusInternalServerError
			}
			s.record(r, recorder, started, recovered)
		}()

		next.ServeHTTP(recorder, r)
	})
}

func (s *Server) record(r *http.Request, recorder *statusRecorder, started time.Time, recovered any) {
	status := recorder.status
	if status == 0 {
		// A handler that writes nothing gets a 200 from net/http.
		status = http.StatusOK
	}

	s.requests.add(Request{
		Method: r.Method,
		Path:   r.URL.Path,
		Range:  r.Header.Get("Range"),
		Status: status,
		Bytes:  recorder.bytes,
	})

	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", recorder.bytes),
		slog.Duration("duration", time.Since(started)),
	}
	switch {
	case recovered != nil:
		attrs = append(attrs, slog.String("panic", fmt.Sprint(recovered)))
		s.logger.LogAttrs(context.Background(), slog.LevelError, "registry request panicked", attrs...)
	case status >= 500:
		s.logger.LogAttrs(context.Background(), slog.LevelError, "registry request failed", attrs...)
	default:
		s.logger.LogAttrs(context.Background(), slog.LevelDebug, "registry request", attrs...)
	}
}
