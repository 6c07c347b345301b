package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestRetrySucceedsAfterTransientErrors(t *testing.T) {
	calls := 0
	err := Retry(t.Context(), fastPolicy, nil, func(context.Context) error {
		calls++
		if calls < 3 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	if err != nil {
		t.Errorf("Retry = %v, expected nil", err)
	}
	if calls != 3 {
		t.Errorf("fn called %d times, expected 3", calls)
	}
}

func TestRetryStopsOnPermanentError(t *testing.T) {
	permanent := errors.New("digest mismatch")
	calls := 0
	err := Retry(t.Context(), fastPolicy, nil, func(context.Context) error {
		calls++
		return permanent
	})
	if !errors.Is(err, permanent) {
		t.Errorf("Retry = %v, expected %v", err, permanent)
	}
	if calls != 1 {
		t.Errorf("fn called %d times, expected 1", calls)
	}
}

func TestRetryReturnsLastError(t *testing.T) {
	policy := fastPolicy
	policy.MaxAttempts = 4
	calls := 0
	err := Retry(t.Context(), policy, func(error) bool { return true }, func(context.Context) error {
		calls++
		return fmt.Errorf("attempt %d failed", calls)
	})
	if err == nil || err.Error() != "attempt 4 failed" {
		t.Errorf("Retry = %v, expected the error of attempt 4", err)
	}
	if calls != 4 {
		t.Errorf("fn called %d times, expected 4", calls)
	}
}

func TestRetryCustomPredicate(t *testing.T) {
	mismatch := errors.New("digest mismatch")
	calls := 0
	err := Retry(t.Context(), fastPolicy, func(err error) bool { return errors.Is(err, mismatch) }, func(context.Context) error {
		calls++
		if calls == 1 {
			return mismatch
		}
		return nil
	})
	if err != nil {
		t.Errorf("Retry = %v, expected nil", err)
	}
	if calls != 2 {
		t.Errorf("fn called %d times, expected 2", calls)
	}
}

func TestRetryCancelStopsBackoff(t *testing.T) {
	policy := RetryPolicy{MaxAttempts: 5, BaseDelay: 10 * time.Second, MaxDelay: 10 * time.Second}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	calls := 0
	start := time.Now()
	err := Retry(ctx, policy, nil, func(context.Context) error {
		calls++
		// Cancel shortly after the first failure, while Retry waits. The
		// jittered wait may be shorter than 20ms, so a second call can happen.
		time.AfterFunc(20*time.Millisecond, cancel)
		return io.EOF
	})
	elapsed := time.Since(start)

	if !errors.Is(err, context.Canceled) {
		t.Errorf("Retry = %v, expected it to wrap context.Canceled", err)
	}
	if !errors.Is(err, io.EOF) {
		t.Errorf("Retry = %v, expected it to wrap the last error io.EOF", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("Retry returned after %v, expected prompt return on cancel", elapsed)
	}
	if calls > 2 {
		t.Errorf("fn called %d times, expected at most 2", calls)
	}
}

func TestRetryCanceledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	calls := 0
	err := Retry(ctx, fastPolicy, nil, func(ctx context.Context) error {
		calls++
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Retry = %v, expected context.Canceled", err)
	}
	if calls != 1 {
		t.Errorf("fn called %d times, expected 1", calls)
	}
}

// timeoutError is a net.Error that reports a timeout.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestIsTransient(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	tests := []struct {
		name     string
		err      error
		expected bool
	}{
		{"nil", nil, false},
		{"plain error", errors.New("manifest invalid"), false},
		{"canceled", context.Canceled, false},
		{"wrapped canceled", fmt.Errorf("fetch blob: %w", context.Canceled), false},
		{"canceled dial", &net.OpError{Op: "dial", Net: "tcp", Err: context.Canceled}, false},
		{"EOF", io.EOF, true},
		{"unexpected EOF", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), true},
		{"connection reset", reset, true},
		{"reset inside url.Error", &url.Error{Op: "Get", URL: "http://127.0.0.1/v2/", Err: reset}, true},
		{"broken pipe", syscall.EPIPE, true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"deadline exceeded", context.DeadlineExceeded, true},
		{"net timeout", timeoutError{}, true},
	}
	for _, test := range tests {
		if got := IsTransient(test.err); got != test.expected {
			t.Errorf("IsTransient(%s: %v) = %v, expected %v", test.name, test.err, got, test.expected)
		}
	}
}
