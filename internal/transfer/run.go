package transfer

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// Run calls fn for each item with at most concurrency calls running at once
// (concurrency < 1 means 1). After the first error, Run starts no more items
// and cancels the context passed to the calls still running. It waits for
// those calls to return and then returns that first error alone, not joined
// with the errors the cancellation causes.
//
// If ctx is done before every item has started and no call failed, Run
// returns ctx.Err(). Items are started in slice order, but they may finish
// in any order.
func Run[T any](ctx context.Context, concurrency int, items []T, fn func(ctx context.Context, item T) error) error {
	if concurrency < 1 {
		concurrency = 1
	}

	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(concurrency)

	stopped := false
	for _, item := range items {
		// group.Go blocks until a slot is free, so the check here catches
		// only errors that happened before the wait. The check inside the
		// goroutine catches those that happened during it.
		if groupCtx.Err() != nil {
			stopped = true
			break
		}
		group.Go(func() error {
			if err := groupCtx.Err(); err != nil {
				return err
			}
			return fn(groupCtx, item)
		})
	}

	err := group.Wait()
	if err == nil && stopped {
		err = ctx.Err()
	}
	return err
}
