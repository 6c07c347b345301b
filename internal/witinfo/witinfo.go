// Package witinfo decodes the WIT world of a component (its imports and
// exports) with go.bytecodealliance.org, which runs wasm-tools compiled to
// WebAssembly in-process, so nothing needs installing. The first call costs
// hundreds of milliseconds while that runtime compiles, which is why callers
// ask for it explicitly.
package witinfo

import (
	"encoding/json"
	"fmt"

	"go.bytecodealliance.org/wit"

	"github.com/wasmcas/wasmcas/internal/wasmbin"
)

// World is the interface of a component.
type World struct {
	Name    string   `json:"name"`
	Imports []string `json:"imports"`
	Exports []string `json:"exports"`
}

// Load decodes the WIT world of the component at path. A component built by
// wasm-tools has one world that describes it; when the decoded WIT has
// several, the last one is the component's own.
func Load(path string) (*World, error) {
	resolve, err := wit.LoadWIT(path)
	if err != nil {
		return nil, fmt.Errorf("decode WIT of %s: %w", path, err)
	}
	if len(resolve.Worlds) == 0 {
		return nil, fmt.Errorf("decode WIT of %s: no world found", path)
	}
	w := resolve.Worlds[len(resolve.Worlds)-1]
	world := &World{Name: w.Name, Imports: []string{}, Exports: []string{}}
	for name, item := range w.Imports.All() {
		world.Imports = append(world.Imports, itemName(name, item))
	}
	for name, item := range w.Exports.All() {
		world.Exports = append(world.Exports, itemName(name, item))
	}
	return world, nil
}

// itemName names a world item the way WIT text does: an interface by its
// package-qualified name, anything else by its key in the world.
func itemName(key string, item wit.WorldItem) string {
	ref, ok := item.(*wit.InterfaceRef)
	if !ok || ref.Interface == nil || ref.Interface.Name == nil || ref.Interface.Package == nil {
		return key
	}
	id := ref.Interface.Package.Name
	name := fmt.Sprintf("%s:%s/%s", id.Namespace, id.Package, *ref.Interface.Name)
	if id.Version != nil {
		name += "@" + id.Version.String()
	}
	return name
}

// ForBinary decodes the world of the binary at path when it is a component,
// as JSON for an artifact's config. For a core module it returns nil, or an
// error when required is true, because a core module has no WIT world.
func ForBinary(path string, kind wasmbin.Kind, required bool) (json.RawMessage, error) {
	if kind != wasmbin.KindComponent {
		if required {
			return nil, fmt.Errorf("%s: --wit needs a component, and this is a core module", path)
		}
		return nil, nil
	}
	world, err := Load(path)
	if err != nil {
		return nil, err
	}
	return json.Marshal(world)
}
