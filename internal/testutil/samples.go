package testutil

// This file builds the two sample binaries that scripts/gen-testdata writes
// to testdata/. Tests can call the builders directly, and
// TestSamplesMatchTestdata checks that the committed files are their output.

// paddedWidth is the width of every padded size, the maximum for a u32.
const paddedWidth = 5

// Opcodes and type codes of the WebAssembly 2.0 binary format that the
// module bodies below use.
const (
	funcType    = 0x60
	valueI32    = 0x7f
	exportFunc  = 0x00
	exportMem   = 0x02
	opI32Const  = 0x41
	opEnd       = 0x0b
	limitsNoMax = 0x00
	dataActive0 = 0x00
	dataPassive = 0x01
)

// section encodes a section with either a minimal or a padded size.
func section(id byte, content []byte, padded bool) []byte {
	if padded {
		return PaddedSection(id, content, paddedWidth)
	}
	return Section(id, content)
}

// answerModule holds the encoded sections of a core module that exports
// memory "memory" and a function "answer" returning 42. Its custom section
// "between" goes between the code and data sections, where only a parser
// that accepts custom sections in any position keeps it.
type answerModule struct {
	types, functions, memory, exports, code, between, data []byte
}

// newAnswerModule encodes the sections of answerModule, with padded sizes
// when padded is true. The data section has one active segment at offset 16
// in memory 0, followed by extraSegments as given.
func newAnswerModule(padded bool, extraSegments ...[]byte) answerModule {
	var m answerModule

	m.types = section(TypeSectionID, Vector(
		[]byte{funcType, 0x00, 0x01, valueI32},
	), padded)

	m.functions = section(FunctionSectionID, Vector(
		ULEB(0),
	), padded)

	m.memory = section(MemorySectionID, Vector(
		[]byte{limitsNoMax, 0x01},
	), padded)

	m.exports = section(ExportSectionID, Vector(
		append(Name("answer"), exportFunc, 0x00),
		append(Name("memory"), exportMem, 0x00),
	), padded)

	body := []byte{0x00, opI32Const, 42, opEnd}
	m.code = section(CodeSectionID, Vector(
		append(ULEB(uint64(len(body))), body...),
	), padded)

	between := append(Name("between"), "custom section between code and data"...)
	m.between = section(CustomSectionID, between, padded)

	active := []byte{dataActive0, opI32Const, 16, opEnd}
	active = appendBytes(active, []byte("active data segment at offset 16"))
	segments := append([][]byte{active}, extraSegments...)
	m.data = section(DataSectionID, Vector(segments...), padded)

	return m
}

// appendBytes appends a WebAssembly byte vector: the length as LEB128, then
// the bytes.
func appendBytes(out, payload []byte) []byte {
	out = append(out, ULEB(uint64(len(payload)))...)
	return append(out, payload...)
}

// PaddedLEBComponent returns a component whose only definitions are one nested
// core module and one custom section, with every section size padded.
func PaddedLEBComponent() []byte {
	m := newAnswerModule(true)
	module := Module(m.types, m.functions, m.memory, m.exports, m.code, m.between, m.data)

	componentCustom := append(Name("wasmcas.padded"), "custom section of the component"...)

	return Component(
		PaddedSection(CoreModuleSectionID, module, paddedWidth),
		PaddedSection(CustomSectionID, componentCustom, paddedWidth),
	)
}

// CustomPlacementModule returns a core module with custom sections at the
// start, between known sections and at the end. Two of them have edge-case
// names or payloads: one named "" and one with no payload bytes.
func CustomPlacementModule() []byte {
	// A passive segment needs no offset expression, so the module also
	// covers data segment kind 1 without a data count section, which only
	// memory.init and data.drop require.
	passive := appendBytes([]byte{dataPassive}, []byte("pass"))
	m := newAnswerModule(false, passive)

	return Module(
		CustomSection("", []byte("custom section with an empty name, first in the module")),
		m.types,
		CustomSection("wasmcas.after-type", []byte{0x00, 0x01, 0x02, 0x03}),
		m.functions,
		m.memory,
		CustomSection("wasmcas.empty-payload", nil),
		m.exports,
		m.code,
		m.between,
		m.data,
		CustomSection("wasmcas.last", []byte("custom section after the data section")),
	)
}
