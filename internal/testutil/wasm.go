package testutil

import "fmt"

// Section ids of a core module, as the WebAssembly 2.0 binary format
// numbers them.
const (
	CustomSectionID    byte = 0
	TypeSectionID      byte = 1
	ImportSectionID    byte = 2
	FunctionSectionID  byte = 3
	TableSectionID     byte = 4
	MemorySectionID    byte = 5
	GlobalSectionID    byte = 6
	ExportSectionID    byte = 7
	StartSectionID     byte = 8
	ElementSectionID   byte = 9
	CodeSectionID      byte = 10
	DataSectionID      byte = 11
	DataCountSectionID byte = 12
)

// Section ids of a component, as the component model binary format numbers
// them. Id 0 is a custom section, as in a core module.
const (
	CoreModuleSectionID      byte = 1
	CoreInstanceSectionID    byte = 2
	CoreTypeSectionID        byte = 3
	ComponentSectionID       byte = 4
	InstanceSectionID        byte = 5
	AliasSectionID           byte = 6
	ComponentTypeSectionID   byte = 7
	CanonSectionID           byte = 8
	ComponentStartSectionID  byte = 9
	ComponentImportSectionID byte = 10
	ComponentExportSectionID byte = 11
	ValueSectionID           byte = 12
)

// ModuleHeader is the preamble of a core module: the magic bytes "\0asm"
// and version 1.
var ModuleHeader = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// ComponentHeader is the preamble of a component: the magic bytes "\0asm",
// version 0x0d and layer 1, the values that jco 1.35.0 writes.
var ComponentHeader = []byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00}

// maxULEBWidth is the number of bytes that an unsigned LEB128 encoding of
// any uint64 fits in: ceil(64 / 7).
const maxULEBWidth = 10

// ULEB encodes v as unsigned LEB128 in the fewest bytes.
func ULEB(v uint64) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// PaddedULEB encodes v as unsigned LEB128 in exactly width bytes, setting
// the continuation bit on every byte but the last. Padding is valid in
// WebAssembly, where it lets linkers patch sizes in place. It panics when
// width is outside 1..10 or v does not fit in width*7 bits.
func PaddedULEB(v uint64, width int) []byte {
	if width < 1 || width > maxULEBWidth {
		panic(fmt.Sprintf("testutil.PaddedULEB: width %d is outside 1..%d", width, maxULEBWidth))
	}
	if width < maxULEBWidth && v>>(7*uint(width)) != 0 {
		panic(fmt.Sprintf("testutil.PaddedULEB: value %d does not fit in %d LEB128 bytes", v, width))
	}

	out := make([]byte, width)
	for i := range out {
		out[i] = byte(v & 0x7f)
		v >>= 7
		if i < width-1 {
			out[i] |= 0x80
		}
	}
	return out
}

// Name encodes s as a WebAssembly name: its length in bytes as LEB128,
// then its bytes. It does not check that s is valid UTF-8, so tests can
// build invalid names.
func Name(s string) []byte {
	return append(ULEB(uint64(len(s))), s...)
}

// Vector encodes a WebAssembly vector: the item count as LEB128, then the
// items as given.
func Vector(items ...[]byte) []byte {
	out := ULEB(uint64(len(items)))
	for _, item := range items {
		out = append(out, item...)
	}
	return out
}

// Section encodes a section: its id, the content size as LEB128 in the
// fewest bytes, then content.
func Section(id byte, content []byte) []byte {
	out := append([]byte{id}, ULEB(uint64(len(content)))...)
	return append(out, content...)
}

// PaddedSection encodes a section like Section, but writes the content size
// as LEB128 padded to width bytes. A section size is a u32, so width must be
// in 1..5. It panics on another width or when the size does not fit.
func PaddedSection(id byte, content []byte, width int) []byte {
	if width < 1 || width > 5 {
		panic(fmt.Sprintf("testutil.PaddedSection: width %d is outside 1..5", width))
	}

	out := append([]byte{id}, PaddedULEB(uint64(len(content)), width)...)
	return append(out, content...)
}

// CustomSection encodes a custom section (id 0) with the given name and
// payload. An empty name is valid and encodes as a single zero byte.
func CustomSection(name string, data []byte) []byte {
	content := append(Name(name), data...)
	return Section(CustomSectionID, content)
}

// Module returns a core module: ModuleHeader followed by the sections in
// the order given.
func Module(sections ...[]byte) []byte {
	return withHeader(ModuleHeader, sections)
}

// Component returns a component: ComponentHeader followed by the sections in
// the order given.
func Component(sections ...[]byte) []byte {
	return withHeader(ComponentHeader, sections)
}

// Nested encodes a component section that embeds a whole binary: kind
// CoreModuleSectionID (1) for a core module or ComponentSectionID (4) for a
// component. It panics on any other kind, because only these two sections
// contain a complete binary with its own header.
func Nested(kind byte, binary []byte) []byte {
	if kind != CoreModuleSectionID && kind != ComponentSectionID {
		panic(fmt.Sprintf("testutil.Nested: section id %d does not contain a nested binary, only %d (core module) and %d (component) do",
			kind, CoreModuleSectionID, ComponentSectionID))
	}
	return Section(kind, binary)
}

// NestedModule encodes a core module section (component section id 1).
func NestedModule(module []byte) []byte {
	return Nested(CoreModuleSectionID, module)
}

// NestedComponent encodes a component section (component section id 4).
func NestedComponent(component []byte) []byte {
	return Nested(ComponentSectionID, component)
}

func withHeader(header []byte, sections [][]byte) []byte {
	out := append([]byte(nil), header...)
	for _, section := range sections {
		out = append(out, section...)
	}
	return out
}
