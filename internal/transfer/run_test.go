package transfer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// inFlight tracks how many calls run at once and the maximum seen.
type inFlight struct {
	current atomic.Int64
	max     atomic.Int64
}

func (f *inFlight) enter() {
	n := f.current.Add(1)
	for {
		seen := f.max.Load()
		if n <= seen || f.max.CompareAndSwap(seen, n) {
			return
		}
	}
}

func (f *inFlight) exit() { f.current.Add(-1) }

func TestRunBoundsConcurrency(t *testing.T) {
	for _, test := range []struct {
		concurrency int
		expectedMax int64
	}{
		{concurrency: 4, expectedMax: 4},
		{concurrency: 1, expectedMax: 1},
		{concurrency: 0, expectedMax: 1},
		{concurrency: -3, expectedMax: 1},
	} {
		var flight inFlight
		var calls atomic.Int64
		items := make([]int, 40)
		err := Run(t.Context(), test.concurrency, items, func(context.Context, int) error {
			flight.enter()
			defer flight.exit()
			calls.Add(1)
			time.Sleep(2 * time.Millisecond)
			return nil
		})
		if err != nil {
			t.Errorf("concurrency %d: Run = %v, expected nil", test.concurrency, err)
		}
		if got := calls.Load(); got != int64(len(items)) {
			t.Errorf("concurrency %d: fn called %d times, expected %d", test.concurrency, got, len(items))
		}
		if got := flight.max.Load(); got > test.expectedMax {
			t.Errorf("concurrency %d: %d calls in flight, expected at most %d", test.concurrency, got, test.expectedMax)
		}
		// 40 items of 2ms with four slots leave ample time for all four
		// to overlap, so fewer would mean the limit is applied wrongly.
		if got := flight.max.Load(); got < test.expectedMax {
			t.Errorf("concurrency %d: at most %d calls in flight, expected %d", test.concurrency, got, test.expectedMax)
		}
	}
}

func TestRunStopsAfterFirstError(t *testing.T) {
	failure := errors.New("blob 10 failed")
	const concurrency = 4
	var calls atomic.Int64
	items := make([]int, 1000)
	for i := range items {
		items[i] = i
	}

	err := Run(t.Context(), concurrency, items, func(ctx context.Context, item int) error {
		calls.Add(1)
		if item == 10 {
			return failure
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
			return nil
		}
	})

	if err != failure {
		t.Errorf("Run = %v, expected exactly the first error %v", err, failure)
	}
	// Items start in order, so besides items 0 to 10 only the items already
	// waiting for a slot when item 10 failed may have started.
	if got := calls.Load(); got > 11+concurrency {
		t.Errorf("fn called %d times, expected at most %d", got, 11+concurrency)
	}
}

func TestRunCancelsRunningItems(t *testing.T) {
	failure := errors.New("upload failed")
	var canceled atomic.Int64

	err := Run(t.Context(), 3, []int{0, 1, 2}, func(ctx context.Context, item int) error {
		if item == 2 {
			time.Sleep(10 * time.Millisecond)
			return failure
		}
		select {
		case <-ctx.Done():
			canceled.Add(1)
			return ctx.Err()
		case <-time.After(5 * time.Second):
			return errors.New("context not canceled within 5s")
		}
	})

	if err != failure {
		t.Errorf("Run = %v, expected %v and not the cancellation errors", err, failure)
	}
	if got := canceled.Load(); got != 2 {
		t.Errorf("%d running items saw the cancellation, expected 2", got)
	}
}

func TestRunCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	var calls atomic.Int64
	err := Run(ctx, 2, []int{1, 2, 3}, func(context.Context, int) error {
		calls.Add(1)
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, expected context.Canceled", err)
	}
	if got := calls.Load(); got != 0 {
		t.Errorf("fn called %d times, expected 0", got)
	}
}

func TestRunEmpty(t *testing.T) {
	err := Run(t.Context(), 4, []string(nil), func(context.Context, string) error {
		t.Error("fn called for an empty list")
		return nil
	})
	if err != nil {
		t.Errorf("Run = %v, expected nil", err)
	}
}
