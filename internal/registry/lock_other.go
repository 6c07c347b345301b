//go:build !unix

package registry

import "sync"

// layoutLock serializes tag updates within one process where advisory file
// locks are not available.
var layoutLock sync.Mutex

// lockLayout takes a process-wide lock and returns its release.
// NOTE: on these systems two wasmcas processes publishing to one embedded
// store repository at once can still lose a tag.
func lockLayout(string) (func(), error) {
	layoutLock.Lock()
	return layoutLock.Unlock, nil
}
