package transfer

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// maxDrainBytes bounds how much of a failed response body is read before the
// retry, so that the connection can be reused without reading a large error
// page in full.
const maxDrainBytes = 64 << 10

// NewRetryTransport wraps next (nil means a clone of http.DefaultTransport) so
// that a request is retried with exponential backoff when it fails with a 5xx
// status, with 429 Too Many Requests, or with a transport error for which
// IsTransient returns true.
//
// A Retry-After header on a 429 or 5xx response, in seconds or as an HTTP
// date, replaces the computed backoff but never exceeds p.MaxDelay. Only
// requests whose body can be replayed are retried: those without a body and
// those with req.GetBody set. When the request context is done, the transport
// stops waiting at once and returns ctx.Err().
//
// After the last attempt the transport returns the last response or error
// unchanged, so the caller sees the final status. A 200 response whose body
// fails while it is being read is not retried here, because RoundTrip has
// already returned. Wrap the request and the read in Retry for that case.
//
// Each retry is logged at debug level on logger (nil discards the logs) with
// the method, the URL without query string or user information, the attempt
// that failed and the reason. Headers are never logged because they can carry
// credentials.
func NewRetryTransport(next http.RoundTripper, p RetryPolicy, logger *slog.Logger) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport.(*http.Transport).Clone()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &retryTransport{next: next, policy: p.withDefaults(), logger: logger}
}

type retryTransport struct {
	next   http.RoundTripper
	policy RetryPolicy
	logger *slog.Logger
}

// RoundTrip implements http.RoundTripper.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	hasBody := req.Body != nil && req.Body != http.NoBody
	maxAttempts := t.policy.MaxAttempts
	if hasBody && req.GetBody == nil {
		maxAttempts = 1
	}

	for attempt := 1; ; attempt++ {
		attemptReq := req
		if attempt > 1 && hasBody {
			// A RoundTripper must not modify the caller's request, so each
			// retry sends a shallow copy with a fresh body.
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("get body to retry %s %s: %w", req.Method, redactURL(req), err)
			}
			attemptReq = req.Clone(ctx)
			attemptReq.Body = body
		}

		resp, err := t.next.RoundTrip(attemptReq)
		reason, retryable := retryReason(resp, err)
		if !retryable || attempt >= maxAttempts || ctx.Err() != nil {
			return resp, err
		}

		delay := t.policy.backoff(attempt)
		if resp != nil {
			if wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				delay = min(wait, t.policy.MaxDelay)
			}
			drainAndClose(resp.Body)
		}

		t.logger.DebugContext(ctx, "retrying HTTP request",
			"method", req.Method,
			"url", redactURL(req),
			"attempt", attempt,
			"max_attempts", maxAttempts,
			"reason", reason,
			"delay", delay,
		)
		if err := sleep(ctx, delay); err != nil {
			return nil, err
		}
	}
}

// retryReason returns a short description of why the outcome of one attempt
// should be retried, and false if it should not.
func retryReason(resp *http.Response, err error) (string, bool) {
	if err != nil {
		if !IsTransient(err) {
			return "", false
		}
		// A *url.Error repeats the full URL, query string included.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			return urlErr.Err.Error(), true
		}
		return err.Error(), true
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return "status " + resp.Status, true
	}
	return "", false
}

// parseRetryAfter parses a Retry-After value given as delay seconds or as an
// HTTP date (RFC 9110, section 10.2.3). A date in the past gives a zero wait.
// It returns false if the value is missing or invalid.
func parseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	if value == "" {
		return 0, false
	}
	if seconds, err := strconv.ParseInt(value, 10, 64); err == nil {
		if seconds < 0 {
			return 0, false
		}
		// Values beyond about 292 years would overflow time.Duration, and
		// every caller caps the wait far below that anyway.
		if seconds > int64(time.Duration(1<<63-1)/time.Second) {
			return time.Duration(1<<63 - 1), true
		}
		return time.Duration(seconds) * time.Second, true
	}
	if date, err := http.ParseTime(value); err == nil {
		return max(date.Sub(now), 0), true
	}
	return 0, false
}

// redactURL returns the request URL without user information, query string or
// fragment, because registries put tokens and upload state in those parts.
func redactURL(req *http.Request) string {
	if req.URL == nil {
		return ""
	}
	u := *req.URL
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	return u.String()
}

// drainAndClose reads up to maxDrainBytes of body and closes it so that the
// underlying keep-alive connection can serve the retry.
func drainAndClose(body io.ReadCloser) {
	if body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, body, maxDrainBytes)
	_ = body.Close()
}
