package transfer

import (
	"context"
	"math/rand/v2"
	"time"
)

// Default values that RetryPolicy uses in place of zero or negative fields.
const (
	DefaultMaxAttempts = 5
	DefaultBaseDelay   = 200 * time.Millisecond
	DefaultMaxDelay    = 5 * time.Second
)

// RetryPolicy bounds retries. A zero or negative field takes its default, so
// the zero RetryPolicy is ready to use.
type RetryPolicy struct {
	MaxAttempts int           // total tries including the first; default 5
	BaseDelay   time.Duration // first backoff, default 200ms; doubles each retry with full jitter
	MaxDelay    time.Duration // cap on any single wait, including Retry-After; default 5s
}

// withDefaults returns p with every unset field replaced by its default.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts < 1 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	return p
}

// backoff returns the wait before retry number retry (1 for the first retry).
// It draws uniformly from [0, min(MaxDelay, BaseDelay*2^(retry-1))], the
// "full jitter" scheme, so that many clients failing together do not retry in
// lockstep. p must already have its defaults applied.
func (p RetryPolicy) backoff(retry int) time.Duration {
	ceiling := p.BaseDelay
	for i := 1; i < retry && ceiling < p.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, p.MaxDelay)
	return rand.N(ceiling + 1)
}

// sleep waits for d or until ctx is done, whichever comes first, and returns
// ctx.Err() in the second case.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
