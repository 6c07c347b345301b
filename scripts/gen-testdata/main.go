// Command gen-testdata writes the test binaries that the pinned assemblers
// cannot produce:
//
//   - padded-leb.wasm: a component in which every section size, in the
//     component and in its nested core module, is LEB128 padded to 5 bytes.
//   - custom-placement.wasm: a core module with custom sections before,
//     between and after its known sections. wat2wasm 1.0.39 ignores the
//     placement in (@custom "name" (after code) ...) and writes every custom
//     section after the last known one, so it cannot build this file.
//
// The binaries come from testutil.PaddedLEBComponent and
// testutil.CustomPlacementModule. scripts/build-testdata.sh runs this
// command as `go run ./scripts/gen-testdata -out DIR`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wasmcas/wasmcas/internal/testutil"
)

func main() {
	out := flag.String("out", "testdata", "directory to write the binaries to")
	flag.Parse()

	files := []struct {
		name   string
		binary []byte
	}{
		{"padded-leb.wasm", testutil.PaddedLEBComponent()},
		{"custom-placement.wasm", testutil.CustomPlacementModule()},
	}
	for _, file := range files {
		path := filepath.Join(*out, file.name)
		if err := os.WriteFile(path, file.binary, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "gen-testdata: %v\n", err)
			os.Exit(1)
		}
	}
}
