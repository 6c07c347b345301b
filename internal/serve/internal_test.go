package serve

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

func TestRequestLogKeepsNewest(t *testing.T) {
	var log requestLog
	total := maxLoggedRequests + 5
	for i := range total {
		log.add(Request{Status: i})
	}

	entries := log.snapshot()
	if len(entries) != maxLoggedRequests {
		t.Fatalf("request log has %d entries, expected %d", len(entries), maxLoggedRequests)
	}
	if entries[0].Status != 5 {
		t.Errorf("oldest entry = %d, expected 5", entries[0].Status)
	}
	if last := entries[len(entries)-1].Status; last != total-1 {
		t.Errorf("newest entry = %d, expected %d", last, total-1)
	}

	log.reset()
	if entries := log.snapshot(); len(entries) != 0 {
		t.Errorf("request log has %d entries after reset, expected 0", len(entries))
	}
}

// newObservedServer returns a Server with only the fields observe uses and a
// buffer that receives its logs.
func newObservedServer() (*Server, *bytes.Buffer) {
	var buffer bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buffer, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return &Server{logger: logger, instanceID: newInstanceID()}, &buffer
}

func TestObserveLogsServerError(t *testing.T) {
	server, logs := newObservedServer()
	handler := server.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "storage failed", http.StatusInternalServerError)
	}))

	request := httptest.NewRequest(http.MethodGet, "/v2/parts/blobs/sha256:abc?_state=signed", nil)
	request.Header.Set("Authorization", "Bearer secret-token")
	handler.ServeHTTP(httptest.NewRecorder(), request)

	output := logs.String()
	for _, expected := range []string{"registry request failed", "method=GET", "path=/v2/parts/blobs/sha256:abc", "status=500"} {
		if !strings.Contains(output, expected) {
			t.Errorf("log %q does not contain %q", output, expected)
		}
	}
	for _, secret := range []string{"secret-token", "_state"} {
		if strings.Contains(output, secret) {
			t.Errorf("log %q contains %q", output, secret)
		}
	}

	requests := server.Requests()
	if len(requests) != 1 || requests[0].Status != http.StatusInternalServerError {
		t.Errorf("request log = %+v, expected one entry with status 500", requests)
	}
}

func TestObserveSkipsClientError(t *testing.T) {
	server, logs := newObservedServer()
	handler := server.observe(http.NotFoundHandler())

	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodHead, "/v2/parts/blobs/sha256:abc", nil))

	if logs.Len() != 0 {
		t.Errorf("404 was logged at info level or above: %q", logs.String())
	}
	requests := server.Requests()
	if len(requests) != 1 || requests[0].Status != http.StatusNotFound {
		t.Errorf("request log = %+v, expected one entry with status 404", requests)
	}
}

func TestObserveRecoversPanic(t *testing.T) {
	server, logs := newObservedServer()
	handler := server.observe(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("broken handler")
	}))

	recorder := httptest.NewRecorder()
	handler.ServeHTTP(recorder, httptest.NewRequest(http.MethodGet, "/v2/", nil))

	if recorder.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, expected %d", recorder.Code, http.StatusInternalServerError)
	}
	if output := logs.String(); !strings.Contains(output, "registry request panicked") || !strings.Contains(output, "broken handler") {
		t.Errorf("log %q does not report the panic", output)
	}
}

func TestDistributionErrorRouting(t *testing.T) {
	configureDistributionLogging()
	server, logs := newObservedServer()
	activeServers.Store(server.instanceID, server)
	t.Cleanup(func() { activeServers.Delete(server.instanceID) })

	entry := logrus.StandardLogger().WithFields(logrus.Fields{
		instanceIDKey:            server.instanceID,
		"http.request.method":    "PUT",
		"http.request.uri":       "/v2/parts/blobs/uploads/id?_state=signed&digest=sha256:abc",
		"http.request.useragent": "client/1.0",
		"http.response.status":   500,
		"err.code":               "unknown",
	})
	entry.Error("response completed with error")

	output := logs.String()
	for _, expected := range []string{"registry handler failed", "path=/v2/parts/blobs/uploads/id", "err.code=unknown", "http.request.method=PUT"} {
		if !strings.Contains(output, expected) {
			t.Errorf("log %q does not contain %q", output, expected)
		}
	}
	for _, hidden := range []string{"_state", "client/1.0"} {
		if strings.Contains(output, hidden) {
			t.Errorf("log %q contains %q", output, hidden)
		}
	}

	logs.Reset()
	entry.WithField("http.response.status", 404).Error("response completed with error")
	if logs.Len() != 0 {
		t.Errorf("client error from Distribution was logged: %q", logs.String())
	}
}

func TestDistributionOutputSilenced(t *testing.T) {
	configureDistributionLogging()
	if output := logrus.StandardLogger().Out; output != io.Discard {
		t.Errorf("logrus output = %T, expected io.Discard", output)
	}
}

// countGoroutines returns the number of goroutines other than the go-events
// broadcaster that Distribution 3.1.2 starts in NewApp and never stops.
func countGoroutines() (int, string) {
	buffer := make([]byte, 1<<20)
	stacks := string(buffer[:runtime.Stack(buffer, true)])
	count := 0
	for _, stack := range strings.Split(stacks, "\n\n") {
		if !strings.Contains(stack, "go-events.(*Broadcaster).run") {
			count++
		}
	}
	return count, stacks
}

func TestShutdownLeavesNoGoroutines(t *testing.T) {
	before, _ := countGoroutines()

	server, err := Start(context.Background(), Config{
		Addr:   "127.0.0.1:0",
		Root:   t.TempDir(),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("start registry: %v", err)
	}
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	for range 3 {
		response, err := client.Get("http://" + server.Addr() + "/v2/")
		if err != nil {
			t.Fatalf("GET /v2/: %v", err)
		}
		_, _ = io.Copy(io.Discard, response.Body)
		_ = response.Body.Close()
	}

	if err := server.Shutdown(context.Background()); err != nil {
		t.Fatalf("shut down registry: %v", err)
	}
	client.CloseIdleConnections()

	// Goroutines end asynchronously after their connections close, so poll
	// for a bounded time.
	var after int
	var stacks string
	for range 100 {
		after, stacks = countGoroutines()
		if after <= before {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("%d goroutines after Shutdown, expected at most %d:\n%s", after, before, stacks)
}
