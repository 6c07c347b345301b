package transfer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmcas/wasmcas/internal/transfer/faultproxy"
)

// fastPolicy keeps test backoff at a millisecond so the package runs quickly.
var fastPolicy = RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

// statusServer responds with statuses[i] to the i-th request and with the
// last entry after that. It counts requests and records request bodies.
type statusServer struct {
	server   *httptest.Server
	requests atomic.Int64
	bodies   chan string
}

func startStatusServer(t *testing.T, header http.Header, statuses ...int) *statusServer {
	t.Helper()
	s := &statusServer{bodies: make(chan string, 16)}
	s.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.requests.Add(1))
		body, _ := io.ReadAll(r.Body)
		select {
		case s.bodies <- string(body):
		default:
		}

		status := statuses[min(n, len(statuses))-1]
		if status != http.StatusOK {
			for name, values := range header {
				w.Header()[name] = values
			}
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "response "+http.StatusText(status))
	}))
	t.Cleanup(s.server.Close)
	return s
}

// newTestTransport returns a base transport without keep-alive, so that
// net/http does not retry resets on reused connections before the retry
// transport gets them.
func newTestTransport(t *testing.T) *http.Transport {
	t.Helper()
	transport := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(transport.CloseIdleConnections)
	return transport
}

func roundTrip(t *testing.T, rt http.RoundTripper, req *http.Request) (*http.Response, string, error) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading response body: %v", err)
	}
	return resp, string(body), nil
}

func TestRetryTransportRecoversFrom500(t *testing.T) {
	s := startStatusServer(t, nil, 500, 500, 500, 200)
	rt := NewRetryTransport(newTestTransport(t), fastPolicy, nil)

	resp, body, err := roundTrip(t, rt, newRequest(t, http.MethodGet, s.server.URL+"/v2/", nil))
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, expected 200", resp.StatusCode)
	}
	if body != "response OK" {
		t.Errorf("body = %q, expected %q", body, "response OK")
	}
	if got := s.requests.Load(); got != 4 {
		t.Errorf("server saw %d requests, expected 4", got)
	}
}

func TestRetryTransportGivesUp(t *testing.T) {
	s := startStatusServer(t, nil, 503)
	policy := fastPolicy
	policy.MaxAttempts = 3
	rt := NewRetryTransport(newTestTransport(t), policy, nil)

	resp, body, err := roundTrip(t, rt, newRequest(t, http.MethodGet, s.server.URL+"/v2/", nil))
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status = %d, expected the last status 503", resp.StatusCode)
	}
	if body != "response Service Unavailable" {
		t.Errorf("body = %q, expected the last response body", body)
	}
	if got := s.requests.Load(); got != 3 {
		t.Errorf("server saw %d requests, expected 3", got)
	}
}

func TestRetryTransport4xxNotRetried(t *testing.T) {
	s := startStatusServer(t, nil, 404, 200)
	rt := NewRetryTransport(newTestTransport(t), fastPolicy, nil)

	resp, _, err := roundTrip(t, rt, newRequest(t, http.MethodGet, s.server.URL+"/v2/", nil))
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status = %d, expected 404", resp.StatusCode)
	}
	if got := s.requests.Load(); got != 1 {
		t.Errorf("server saw %d requests, expected 1", got)
	}
}

func TestRetryTransportRetryAfterZero(t *testing.T) {
	s := startStatusServer(t, http.Header{"Retry-After": {"0"}}, 429, 429, 200)
	// A 10s backoff would time the test out, so finishing quickly shows that
	// Retry-After: 0 replaced the backoff.
	policy := RetryPolicy{MaxAttempts: 5, BaseDelay: 10 * time.Second, MaxDelay: 10 * time.Second}
	rt := NewRetryTransport(newTestTransport(t), policy, nil)

	start := time.Now()
	resp, _, err := roundTrip(t, rt, newRequest(t, http.MethodGet, s.server.URL+"/v2/", nil))
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, expected 200", resp.StatusCode)
	}
	if got := s.requests.Load(); got != 3 {
		t.Errorf("server saw %d requests, expected 3", got)
	}
	if elapsed > 2*time.Second {
		t.Errorf("RoundTrip took %v, expected well under the 10s backoff", elapsed)
	}
}

func TestRetryTransportRetryAfterCapped(t *testing.T) {
	s := startStatusServer(t, http.Header{"Retry-After": {"3600"}}, 429, 200)
	// The 1ms base delay alone would wait at most 1ms, so a wait of at least
	// MaxDelay shows that Retry-After was used and then capped.
	policy := RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 50 * time.Millisecond}
	rt := NewRetryTransport(newTestTransport(t), policy, nil)

	start := time.Now()
	resp, _, err := roundTrip(t, rt, newRequest(t, http.MethodGet, s.server.URL+"/v2/", nil))
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, expected 200", resp.StatusCode)
	}
	if elapsed < 50*time.Millisecond {
		t.Errorf("RoundTrip took %v, expected at least the 50ms MaxDelay", elapsed)
	}
	if elapsed > 5*time.Second {
		t.Errorf("RoundTrip took %v, expected Retry-After capped at 50ms", elapsed)
	}
}

func TestRetryTransportPOSTWithoutGetBody(t *testing.T) {
	s := startStatusServer(t, nil, 500, 200)
	rt := NewRetryTransport(newTestTransport(t), fastPolicy, nil)

	// io.NopCloser hides the reader type, so http.NewRequest cannot set
	// GetBody and the body cannot be replayed.
	req := newRequest(t, http.MethodPost, s.server.URL+"/v2/test/blobs/uploads/", io.NopCloser(strings.NewReader("payload")))
	if req.GetBody != nil {
		t.Fatal("GetBody is set, expected nil for this test")
	}
	resp, _, err := roundTrip(t, rt, req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d, expected 500", resp.StatusCode)
	}
	if got := s.requests.Load(); got != 1 {
		t.Errorf("server saw %d requests, expected 1", got)
	}
}

func TestRetryTransportPOSTWithGetBody(t *testing.T) {
	s := startStatusServer(t, nil, 500, 500, 201)
	rt := NewRetryTransport(newTestTransport(t), fastPolicy, nil)

	req := newRequest(t, http.MethodPost, s.server.URL+"/v2/test/blobs/uploads/", strings.NewReader("payload"))
	resp, _, err := roundTrip(t, rt, req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("status = %d, expected 201", resp.StatusCode)
	}
	if got := s.requests.Load(); got != 3 {
		t.Fatalf("server saw %d requests, expected 3", got)
	}
	for i := range 3 {
		if body := <-s.bodies; body != "payload" {
			t.Errorf("request %d body = %q, expected %q", i+1, body, "payload")
		}
	}
}

func TestRetryTransportReset(t *testing.T) {
	s := startStatusServer(t, nil, 200)
	proxy := faultproxy.Start(t, s.server.URL, faultproxy.Rule{Fault: faultproxy.Reset, Times: 2})
	rt := NewRetryTransport(newTestTransport(t), fastPolicy, nil)

	resp, _, err := roundTrip(t, rt, newRequest(t, http.MethodGet, proxy.URL()+"/v2/", nil))
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, expected 200", resp.StatusCode)
	}
	requests := proxy.Requests()
	if len(requests) != 3 {
		t.Fatalf("proxy saw %d requests, expected 3: %+v", len(requests), requests)
	}
	if requests[0].Fault != faultproxy.Reset || requests[1].Fault != faultproxy.Reset {
		t.Errorf("faults = %v, %v, expected two resets", requests[0].Fault, requests[1].Fault)
	}
}

func TestRetryTransportResetGivesUp(t *testing.T) {
	s := startStatusServer(t, nil, 200)
	proxy := faultproxy.Start(t, s.server.URL, faultproxy.Rule{Fault: faultproxy.Reset})
	policy := fastPolicy
	policy.MaxAttempts = 3
	rt := NewRetryTransport(newTestTransport(t), policy, nil)

	_, _, err := roundTrip(t, rt, newRequest(t, http.MethodGet, proxy.URL()+"/v2/", nil))
	if err == nil {
		t.Fatal("RoundTrip succeeded, expected the last connection error")
	}
	if !IsTransient(err) {
		t.Errorf("error %v is not transient, expected a connection error", err)
	}
	if got := len(proxy.Requests()); got != 3 {
		t.Errorf("proxy saw %d requests, expected 3", got)
	}
}

func TestRetryTransportNonTransientError(t *testing.T) {
	permanent := errors.New("certificate signed by unknown authority")
	var calls atomic.Int64
	next := roundTripperFunc(func(*http.Request) (*http.Response, error) {
		calls.Add(1)
		return nil, permanent
	})
	rt := NewRetryTransport(next, fastPolicy, nil)

	_, err := rt.RoundTrip(newRequest(t, http.MethodGet, "http://127.0.0.1:1/v2/", nil))
	if !errors.Is(err, permanent) {
		t.Errorf("error = %v, expected %v", err, permanent)
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("next transport called %d times, expected 1", got)
	}
}

func TestRetryTransportCancelStopsBackoff(t *testing.T) {
	// Retry-After makes the wait a fixed 10s, so a prompt return can only
	// come from the cancellation.
	s := startStatusServer(t, http.Header{"Retry-After": {"10"}}, 503)
	policy := RetryPolicy{MaxAttempts: 5, BaseDelay: 10 * time.Second, MaxDelay: 10 * time.Second}
	rt := NewRetryTransport(newTestTransport(t), policy, nil)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		// Cancel once the first attempt has reached the server, so that
		// the transport is in its backoff wait.
		deadline := time.Now().Add(5 * time.Second)
		for s.requests.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()

	req := newRequest(t, http.MethodGet, s.server.URL+"/v2/", nil).WithContext(ctx)
	start := time.Now()
	resp, err := rt.RoundTrip(req)
	elapsed := time.Since(start)
	if resp != nil {
		resp.Body.Close()
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, expected context.Canceled", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("RoundTrip returned after %v, expected prompt return on cancel", elapsed)
	}
	if got := s.requests.Load(); got != 1 {
		t.Errorf("server saw %d requests, expected 1", got)
	}
}

func TestRetryTransportLogsRedactedURL(t *testing.T) {
	s := startStatusServer(t, nil, 500, 200)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rt := NewRetryTransport(newTestTransport(t), fastPolicy, logger)

	rawURL := strings.Replace(s.server.URL, "http://", "http://user:password1@", 1) + "/v2/test/blobs/uploads/x?_state=secret2"
	req := newRequest(t, http.MethodPatch, rawURL, strings.NewReader("chunk"))
	req.Header.Set("Authorization", "Bearer secret3")
	if _, _, err := roundTrip(t, rt, req); err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}

	output := logs.String()
	for _, expected := range []string{"method=PATCH", "/v2/test/blobs/uploads/x", "attempt=1", "500"} {
		if !strings.Contains(output, expected) {
			t.Errorf("log %q does not contain %q", output, expected)
		}
	}
	for _, secret := range []string{"password1", "secret2", "secret3", "Authorization"} {
		if strings.Contains(output, secret) {
			t.Errorf("log %q contains %q", output, secret)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		value    string
		expected time.Duration
		ok       bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"99999999999999999", time.Duration(1<<63 - 1), true},
	}
	for _, test := range tests {
		got, ok := parseRetryAfter(test.value, now)
		if got != test.expected || ok != test.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v, expected %v, %v", test.value, got, ok, test.expected, test.ok)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	policy := RetryPolicy{BaseDelay: 10 * time.Millisecond, MaxDelay: 100 * time.Millisecond}.withDefaults()
	ceilings := []time.Duration{10, 20, 40, 80, 100, 100, 100}
	for i, ceiling := range ceilings {
		retry := i + 1
		for range 200 {
			if got := policy.backoff(retry); got < 0 || got > ceiling*time.Millisecond {
				t.Fatalf("backoff(%d) = %v, expected within [0, %v]", retry, got, ceiling*time.Millisecond)
			}
		}
	}
	// A large retry number must not overflow the doubling.
	if got := policy.backoff(1000); got < 0 || got > policy.MaxDelay {
		t.Errorf("backoff(1000) = %v, expected within [0, %v]", got, policy.MaxDelay)
	}
}

func TestRetryPolicyDefaults(t *testing.T) {
	got := RetryPolicy{}.withDefaults()
	expected := RetryPolicy{MaxAttempts: 5, BaseDelay: 200 * time.Millisecond, MaxDelay: 5 * time.Second}
	if got != expected {
		t.Errorf("defaults = %+v, expected %+v", got, expected)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func newRequest(t *testing.T, method, rawURL string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, rawURL, err)
	}
	return req
}
