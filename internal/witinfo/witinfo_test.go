package witinfo

import (
	"slices"
	"testing"
)

func TestLoadGoCommand(t *testing.T) {
	world, err := Load("../../testdata/hello-go.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(world.Exports, "wasi:cli/run@0.2.0") && !slices.ContainsFunc(world.Exports, func(s string) bool { return len(s) > 12 && s[:12] == "wasi:cli/run" }) {
		t.Errorf("exports %v lack wasi:cli/run", world.Exports)
	}
	if len(world.Imports) == 0 {
		t.Error("no imports decoded")
	}
}

func TestLoadCoreModuleFails(t *testing.T) {
	if _, err := Load("../../testdata/data-segments.wasm"); err == nil {
		t.Error("core module decoded as a component")
	}
}
