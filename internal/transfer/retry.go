package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// Retry calls fn up to p.MaxAttempts times, waiting with the policy's backoff
// between calls, while fn returns an error for which retryable returns true.
// A nil retryable means IsTransient. Retry returns nil on the first success and
// otherwise the last error from fn.
//
// The retry transport cannot see a response that arrived with a good status
// and then lost its body midway (a reset or a short read), because RoundTrip
// has already returned by then. Callers that read blobs wrap the whole
// request-and-read in Retry to fetch such blobs again.
//
// Retry always makes the first call, even if ctx is already done. If ctx is
// done before a later call, Retry stops at once and returns an error that
// wraps both ctx.Err() and the last error from fn.
func Retry(ctx context.Context, p RetryPolicy, retryable func(error) bool, fn func(ctx context.Context) error) error {
	p = p.withDefaults()
	if retryable == nil {
		retryable = IsTransient
	}

	var err error
	for attempt := 1; attempt <= p.MaxAttempts; attempt++ {
		if attempt > 1 {
			if waitErr := sleep(ctx, p.backoff(attempt-1)); waitErr != nil {
				return fmt.Errorf("retry stopped after %d attempts: %w (last error: %w)", attempt-1, waitErr, err)
			}
		}

		err = fn(ctx)
		if err == nil || !retryable(err) {
			return err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			// fn may have failed because ctx ended, so the error can look
			// transient even though another attempt cannot succeed.
			return err
		}
	}
	return err
}

// IsTransient reports whether err is a network failure that another attempt
// may not repeat: a connection reset or abort, a broken pipe, io.EOF,
// io.ErrUnexpectedEOF, a timeout (including context.DeadlineExceeded), or any
// *net.OpError such as a refused dial. It returns false for nil and for any
// error that wraps context.Canceled, because a cancellation is deliberate.
//
// A deadline from the caller's own context also counts as transient here, so
// Retry and the retry transport check the context before trying again.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}

	switch {
	case errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}

	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}
