// Package servetest starts an in-process registry for tests.
package servetest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmcas/wasmcas/internal/serve"
)

// Start starts a registry on a free loopback port with a fresh temporary
// storage root and shuts it down when the test ends. The server's slog output
// goes to t.Log at debug level. Package serve discards Distribution's own
// logrus output, except for server-side errors, which also reach t.Log.
func Start(t testing.TB) *serve.Server {
	t.Helper()

	writer := &testWriter{t: t}
	logger := slog.New(slog.NewTextHandler(writer, &slog.HandlerOptions{Level: slog.LevelDebug}))

	server, err := serve.Start(context.Background(), serve.Config{
		Addr:   "127.0.0.1:0",
		Root:   t.TempDir(),
		Logger: logger,
	})
	if err != nil {
		t.Fatalf("start test registry: %v", err)
	}

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := server.Shutdown(ctx); err != nil {
			t.Errorf("shut down test registry at %s: %v", server.Addr(), err)
		}
		writer.close()
	})
	return server
}

// testWriter sends log lines to t.Log until close is called. Calling t.Log
// after a test has finished panics, and a request that outlives a timed-out
// shutdown could still log, so later lines are dropped.
type testWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()

	if !w.closed {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()

	w.closed = true
}
