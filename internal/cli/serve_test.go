package cli

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer that the server's logger writes while the
// test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServeStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	errOut := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--root", t.TempDir()}, Streams{In: strings.NewReader(""), Out: &out, ErrOut: errOut})
	}()

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errOut.String(), "registry started") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited with status %d: %s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30 seconds of the cancel")
	}
	if !strings.Contains(errOut.String(), "registry stopped") {
		t.Errorf("log lacks the stop: %q", errOut.String())
	}
}

func TestServeRequiresRoot(t *testing.T) {
	_, errOut, code := run(t, "serve", "--addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "root") {
		t.Errorf("status %d, stderr %q; want an error naming --root", code, errOut)
	}
}
