//go:build unix

package registry

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockLayout takes an exclusive advisory lock on the layout dir, waiting
// for other wasmcas processes that hold it, and returns its release.
func lockLayout(dir string) (func(), error) {
	path := filepath.Join(dir, ".wasmcas.lock")
	file, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock store %s: %w", dir, err)
	}
	if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX); err != nil {
		file.Close()
		return nil, fmt.Errorf("lock store %s: %w", dir, err)
	}
	return func() {
		syscall.Flock(int(file.Fd()), syscall.LOCK_UN)
		file.Close()
	}, nil
}
