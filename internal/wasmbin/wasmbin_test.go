package wasmbin

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

var (
	modulePreamble    = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	componentPreamble = []byte{0x00, 'a', 's', 'm', 0x0d, 0x00, 0x01, 0x00}
)

// leb encodes v as an unsigned LEB128 of minimal width.
func leb(v uint32) []byte {
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

// leb5 encodes v as an unsigned LEB128 padded to 5 bytes.
func leb5(v uint32) []byte {
	return []byte{byte(v) | 0x80, byte(v>>7) | 0x80, byte(v>>14) | 0x80, byte(v>>21) | 0x80, byte(v >> 28)}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func section(id byte, content ...[]byte) []byte {
	c := cat(content...)
	return cat([]byte{id}, leb(uint32(len(c))), c)
}

func paddedSection(id byte, content ...[]byte) []byte {
	c := cat(content...)
	return cat([]byte{id}, leb5(uint32(len(c))), c)
}

func vec(items ...[]byte) []byte { return cat(leb(uint32(len(items))), cat(items...)) }

func name(s string) []byte { return cat(leb(uint32(len(s))), []byte(s)) }

func module(sections ...[]byte) []byte    { return cat(modulePreamble, cat(sections...)) }
func component(sections ...[]byte) []byte { return cat(componentPreamble, cat(sections...)) }

func parseBytes(t *testing.T, data []byte) *Binary {
	t.Helper()
	b, err := Parse(bytes.NewReader(data), 0, int64(len(data)))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return b
}

// wantFormatError checks that err is a *FormatError at offset whose message
// contains msg.
func wantFormatError(t *testing.T, err error, offset int64, msg string) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v, expected a *FormatError", err)
	}
	if fe.Offset != offset {
		t.Errorf("Offset = %d, expected %d (%v)", fe.Offset, offset, fe)
	}
	if !strings.Contains(fe.Msg, msg) {
		t.Errorf("Msg = %q, expected it to contain %q", fe.Msg, msg)
	}
}

func TestParseEmpty(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		kind Kind
	}{
		{"module", modulePreamble, KindModule},
		{"component", componentPreamble, KindComponent},
		{"component version 0x0a", []byte{0x00, 'a', 's', 'm', 0x0a, 0x00, 0x01, 0x00}, KindComponent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := parseBytes(t, tt.data)
			if b.Kind != tt.kind {
				t.Errorf("Kind = %v, expected %v", b.Kind, tt.kind)
			}
			if b.Offset != 0 || b.Size != PreambleSize {
				t.Errorf("span = [%d, +%d), expected [0, +8)", b.Offset, b.Size)
			}
			if !bytes.Equal(b.Preamble[:], tt.data) {
				t.Errorf("Preamble = % x, expected % x", b.Preamble, tt.data)
			}
			if len(b.Sections) != 0 {
				t.Errorf("Sections = %v, expected none", b.Sections)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindModule: "module", KindComponent: "component", 7: "Kind(7)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, expected %q", uint8(k), got, want)
		}
	}
}

func TestFormatErrorMessage(t *testing.T) {
	tests := []struct {
		err  FormatError
		want string
	}{
		{FormatError{26, "section size exceeds the enclosing binary", uint32(4096)}, "offset 0x1a (26): section size exceeds the enclosing binary: 4096"},
		{FormatError{0, "invalid magic number", []byte{0x00, 0x41}}, "offset 0x0 (0): invalid magic number: 00 41"},
		{FormatError{3, "unsupported instruction", byte(0x44)}, "offset 0x3 (3): unsupported instruction: 0x44"},
		{FormatError{5, "invalid name", "a\x00"}, `offset 0x5 (5): invalid name: "a\x00"`},
		{FormatError{5, "truncated", nil}, "offset 0x5 (5): truncated"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, expected %q", got, tt.want)
		}
	}
}

func TestParseSections(t *testing.T) {
	typeSection := []byte{0x01, 0x60, 0x00, 0x00}
	data := module(
		paddedSection(1, typeSection),
		section(SectionCustom, name(""), []byte("empty-name")),
		paddedSection(SectionCustom, name("héllo"), []byte{1, 2, 3}),
		section(0x7f, []byte{9, 9}), // an unknown id stays opaque
		section(3, nil),
	)
	b := parseBytes(t, data)
	want := []Section{
		{ID: 1, Offset: 8, HeaderSize: 6, Size: 4},
		{ID: 0, Offset: 18, HeaderSize: 2, Size: 11, Name: "", NameSize: 1},
		{ID: 0, Offset: 31, HeaderSize: 6, Size: 10, Name: "héllo", NameSize: 7},
		{ID: 0x7f, Offset: 47, HeaderSize: 2, Size: 2},
		{ID: 3, Offset: 51, HeaderSize: 2, Size: 0},
	}
	if len(b.Sections) != len(want) {
		t.Fatalf("got %d sections, expected %d: %+v", len(b.Sections), len(want), b.Sections)
	}
	for i, s := range b.Sections {
		if s != want[i] {
			t.Errorf("section %d = %+v, expected %+v", i, s, want[i])
		}
	}
	if end := b.Sections[len(b.Sections)-1].End(); end != int64(len(data)) {
		t.Errorf("last section ends at %d, expected %d", end, len(data))
	}
}

func TestParseAtOffset(t *testing.T) {
	inner := module(section(1, []byte{0}))
	data := cat([]byte{0xee, 0xee, 0xee}, inner, []byte{0xee})
	b, err := Parse(bytes.NewReader(data), 3, int64(len(inner)))
	if err != nil {
		t.Fatal(err)
	}
	if b.Offset != 3 || b.Sections[0].Offset != 11 || b.Sections[0].ContentOffset() != 13 {
		t.Errorf("offsets = %d, %d, %d, expected 3, 11, 13", b.Offset, b.Sections[0].Offset, b.Sections[0].ContentOffset())
	}
}

func TestParseNested(t *testing.T) {
	m1 := module(section(1, []byte{0}))
	m2 := module()
	inner := component(section(SectionComponentCoreModule, m2))
	data := component(
		section(SectionComponentCoreModule, m1),
		paddedSection(SectionComponentCoreModule, m2),
		section(7, []byte{0}), // a component type section, opaque here
		section(SectionComponent, inner),
	)
	b := parseBytes(t, data)
	if len(b.Sections) != 4 {
		t.Fatalf("got %d sections, expected 4", len(b.Sections))
	}

	first, second, types, nested := b.Sections[0], b.Sections[1], b.Sections[2], b.Sections[3]
	if first.Child == nil || first.Child.Kind != KindModule || first.Child.Offset != 10 || first.Child.Size != int64(len(m1)) {
		t.Errorf("first module = %+v, expected a module at 10 of size %d", first.Child, len(m1))
	}
	if second.Child == nil || second.Child.Kind != KindModule || second.Child.Offset != second.ContentOffset() {
		t.Errorf("second module = %+v, expected a module at %d", second.Child, second.ContentOffset())
	}
	if types.Child != nil {
		t.Errorf("type section has a child: %+v", types.Child)
	}
	if nested.Child == nil || nested.Child.Kind != KindComponent {
		t.Fatalf("nested component = %+v, expected a component", nested.Child)
	}
	if len(nested.Child.Sections) != 1 || nested.Child.Sections[0].Child == nil || nested.Child.Sections[0].Child.Kind != KindModule {
		t.Errorf("nested component sections = %+v, expected one core module", nested.Child.Sections)
	}
	// Section ids 1 and 4 of a core module are the type and table sections.
	if first.Child.Sections[0].Child != nil {
		t.Errorf("type section of a module has a child")
	}
}

// nest returns depth components, each the only section of the one before.
// Every level adds 14 bytes before its child: 8 of preamble, the section id
// and a padded 5-byte size.
func nest(depth int) []byte {
	data := componentPreamble
	for range depth - 1 {
		data = component(paddedSection(SectionComponent, data))
	}
	return data
}

func TestParseDepth(t *testing.T) {
	b := parseBytes(t, nest(MaxDepth))
	levels := 1
	for len(b.Sections) == 1 {
		b = b.Sections[0].Child
		levels++
	}
	if levels != MaxDepth {
		t.Errorf("levels = %d, expected %d", levels, MaxDepth)
	}

	data := nest(MaxDepth + 1)
	_, err := Parse(bytes.NewReader(data), 0, int64(len(data)))
	wantFormatError(t, err, 14*MaxDepth, "nesting depth exceeds")
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		size   int64 // -1 means len(data)
		offset int64
		msg    string
	}{
		{"empty", nil, -1, 0, "truncated preamble"},
		{"short", []byte{0x00, 'a', 's'}, -1, 0, "truncated preamble"},
		{"bad magic", []byte{0x00, 'A', 'S', 'M', 1, 0, 0, 0}, -1, 0, "invalid magic number"},
		{"not wasm", []byte("#!/bin/sh\n"), -1, 0, "invalid magic number"},
		{"unknown layer", []byte{0x00, 'a', 's', 'm', 0x0d, 0x00, 0x02, 0x00}, -1, 6, "invalid layer"},
		{"module version", []byte{0x00, 'a', 's', 'm', 0x02, 0x00, 0x00, 0x00}, -1, 4, "unsupported core module version"},
		{"missing section size", module([]byte{1}), -1, 9, "truncated section size"},
		{"truncated section", module([]byte{1, 5, 0, 0}), -1, 9, "section size exceeds the enclosing binary"},
		{"truncated size LEB", module([]byte{1, 0x80, 0x80}), -1, 11, "truncated section size"},
		{"size past end", module([]byte{1, 0x85, 0x80, 0x80, 0x80, 0x00, 1, 2}), -1, 9, "section size exceeds the enclosing binary"},
		{"LEB overflow", module([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x1f}), -1, 9, "invalid u32 LEB128 section size"},
		{"LEB too long", module([]byte{0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}), -1, 9, "invalid u32 LEB128 section size"},
		{"reader too short", module(section(1, []byte{0})), 20, 19, "truncated input"},
		{"custom name exceeds section", module(section(0, []byte{5, 'a'})), -1, 10, "custom section name length exceeds"},
		{"custom name missing", module(section(0, nil)), -1, 10, "truncated custom section name length"},
		{"custom name not UTF-8", module(section(0, name("\xff"))), -1, 11, "not UTF-8"},
		{"component in module section", component(section(1, componentPreamble)), -1, 10, "expected a module, found a component"},
		{"module in component section", component(section(4, modulePreamble)), -1, 10, "expected a component, found a module"},
		{"nested bad magic", component(section(1, []byte("0123456789"))), -1, 10, "invalid magic number"},
		{"nested truncated", component(section(1, modulePreamble[:5])), -1, 10, "truncated preamble"},
		{"nested section past child", component(section(1, module([]byte{1, 3, 0}))), -1, 19, "section size exceeds the enclosing binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := tt.size
			if size < 0 {
				size = int64(len(tt.data))
			}
			_, err := Parse(bytes.NewReader(tt.data), 0, size)
			wantFormatError(t, err, tt.offset, tt.msg)
		})
	}
}

func TestParseInvalidRange(t *testing.T) {
	_, err := Parse(bytes.NewReader(modulePreamble), -1, 8)
	wantFormatError(t, err, -1, "invalid range")
	_, err = Parse(bytes.NewReader(modulePreamble), 1, maxInt64)
	wantFormatError(t, err, 1, "invalid range")
}

// failingReader returns errBroken for every read.
type failingReader struct{}

var errBroken = errors.New("broken disk")

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errBroken }

func TestParseReadError(t *testing.T) {
	_, err := Parse(failingReader{}, 0, 100)
	if !errors.Is(err, errBroken) {
		t.Errorf("error = %v, expected it to wrap %v", err, errBroken)
	}
	var fe *FormatError
	if errors.As(err, &fe) {
		t.Errorf("error = %v, expected no *FormatError for a failed read", err)
	}
}

// dataModule returns a module whose only section is a data section with
// the given content, and the parsed section.
func dataModule(t *testing.T, content ...[]byte) ([]byte, Section) {
	t.Helper()
	data := module(section(SectionModuleData, content...))
	b := parseBytes(t, data)
	return data, b.Sections[0]
}

func TestDataSegments(t *testing.T) {
	i32 := func(v byte) []byte { return []byte{opI32Const, v} }
	end := []byte{opEnd}
	tests := []struct {
		name     string
		segments [][]byte
	}{
		{"active", [][]byte{cat([]byte{0}, i32(8), end, name("hello"))}},
		{"active empty", [][]byte{cat([]byte{0}, i32(0), end, name(""))}},
		{"passive", [][]byte{cat([]byte{1}, name("passive bytes"))}},
		{"passive empty", [][]byte{{1, 0}}},
		{"memory index", [][]byte{cat([]byte{2, 1}, i32(4), end, name("x"))}},
		{"padded memory index", [][]byte{cat([]byte{2}, leb5(3), i32(4), end, name("x"))}},
		{"padded kind", [][]byte{cat([]byte{0x81, 0x00}, name("p"))}},
		{"memory64", [][]byte{cat([]byte{2, 1, opI64Const, 0xc0, 0x00}, end, name("memory64 segment"))}},
		{"i64 10-byte", [][]byte{cat([]byte{2, 1, opI64Const, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, end, name("-1"))}},
		{"i64 max", [][]byte{cat([]byte{2, 1, opI64Const, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, end, name("max"))}},
		{"i32 5-byte min", [][]byte{cat([]byte{0, opI32Const, 0x80, 0x80, 0x80, 0x80, 0x78}, end, name("min"))}},
		{"global.get", [][]byte{cat([]byte{0, opGlobalGet, 0}, end, name("g"))}},
		{"extended i32", [][]byte{cat([]byte{0, opGlobalGet, 0}, i32(16), []byte{opI32Add}, i32(2), []byte{opI32Mul}, i32(1), []byte{opI32Sub}, end, name("ext"))}},
		{"extended i64", [][]byte{cat([]byte{2, 1, opI64Const, 1, opI64Const, 2, opI64Add, opI64Const, 3, opI64Sub, opI64Const, 4, opI64Mul}, end, name("ext64"))}},
		{"all kinds", [][]byte{
			cat([]byte{0}, i32(0), end, name("hello")),
			cat([]byte{2, 1, opI64Const, 0x40}, end, name("m64")),
			cat([]byte{1}, name("passive")),
			cat([]byte{0}, i32(0x7f), end, name("")),
		}},
		{"none", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, s := dataModule(t, vec(tt.segments...))
			u, err := DataSegments(bytes.NewReader(data), s)
			if err != nil {
				t.Fatal(err)
			}
			if u.Count != uint32(len(tt.segments)) || u.CountSize != 1 || len(u.Units) != len(tt.segments) {
				t.Fatalf("Units = %+v, expected %d units after a 1-byte count", u, len(tt.segments))
			}
			next := s.ContentOffset() + 1
			for i, seg := range tt.segments {
				want := Unit{Offset: next, Size: int64(len(seg))}
				if u.Units[i] != want {
					t.Errorf("unit %d = %+v, expected %+v", i, u.Units[i], want)
				}
				next += int64(len(seg))
			}
		})
	}
}

func TestFunctionBodies(t *testing.T) {
	bodies := [][]byte{
		cat(leb(4), []byte{0x00, opI32Const, 42, opEnd}),
		cat(leb5(2), []byte{0x00, opEnd}),
		cat(leb(0)), // an empty body decodes, although validation would reject it
	}
	data := module(section(SectionModuleCode, leb5(3), cat(bodies...)))
	s := parseBytes(t, data).Sections[0]
	u, err := FunctionBodies(bytes.NewReader(data), s)
	if err != nil {
		t.Fatal(err)
	}
	if u.Count != 3 || u.CountSize != 5 {
		t.Errorf("Count, CountSize = %d, %d, expected 3, 5", u.Count, u.CountSize)
	}
	want := []Unit{{15, 5}, {20, 7}, {27, 1}}
	if len(u.Units) != len(want) {
		t.Fatalf("Units = %+v, expected %+v", u.Units, want)
	}
	for i := range want {
		if u.Units[i] != want[i] {
			t.Errorf("unit %d = %+v, expected %+v", i, u.Units[i], want[i])
		}
	}
}

func TestUnitsErrors(t *testing.T) {
	// Content starts at offset 10: 8 bytes of preamble, the id and a 1-byte size.
	tests := []struct {
		name    string
		id      byte
		content []byte
		offset  int64
		msg     string
	}{
		{"data count exceeds bytes", 11, []byte{100, 1, 0}, 10, "data segment count exceeds the remaining section bytes"},
		{"data count missing", 11, nil, 10, "truncated data segment count"},
		{"data count overflow", 11, []byte{0xff, 0xff, 0xff, 0xff, 0x7f}, 10, "invalid u32 LEB128 data segment count"},
		{"data trailing bytes", 11, []byte{1, 1, 0, 0xaa}, 13, "1 bytes after the last data segment"},
		{"data kind", 11, []byte{1, 3, 0}, 11, "invalid data segment kind"},
		{"data length past end", 11, []byte{1, 1, 5, 'a'}, 12, "data segment length exceeds the section"},
		{"data missing end", 11, []byte{1, 0, opI32Const, 0}, 14, "truncated offset expression"},
		{"data f64.const", 11, []byte{1, 0, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, opEnd, 0}, 12, "unsupported instruction"},
		{"data empty expression", 11, []byte{1, 0, opEnd, 0}, 12, "expected exactly one value"},
		{"data two values", 11, []byte{1, 0, opI32Const, 0, opI32Const, 0, opEnd, 0}, 16, "expected exactly one value"},
		{"data add one operand", 11, []byte{1, 0, opI32Const, 0, opI32Add, opEnd, 0}, 14, "needs two operands"},
		{"data s32 overflow", 11, []byte{1, 0, opI32Const, 0xff, 0xff, 0xff, 0xff, 0x4f, opEnd, 0}, 13, "invalid s32 LEB128"},
		{"data s32 too long", 11, []byte{1, 0, opI32Const, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, opEnd, 0}, 13, "invalid s32 LEB128"},
		{"data s64 overflow", 11, []byte{1, 2, 0, opI64Const, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, opEnd, 0}, 14, "invalid s64 LEB128"},
		{"data memory index overflow", 11, []byte{1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0, opI32Const, 0, opEnd, 0}, 12, "invalid u32 LEB128 data segment memory index"},
		{"code count exceeds bytes", 10, []byte{2, 0}, 10, "function body count exceeds the remaining section bytes"},
		{"code body past end", 10, []byte{1, 4, 0, opEnd}, 11, "function body size exceeds the section"},
		{"code trailing bytes", 10, []byte{1, 1, 0, 0, 0}, 13, "2 bytes after the last function body"},
		{"code truncated body size", 10, []byte{1, 0x80}, 12, "truncated function body size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := module(section(tt.id, tt.content))
			s := parseBytes(t, data).Sections[0]
			var err error
			if tt.id == SectionModuleData {
				_, err = DataSegments(bytes.NewReader(data), s)
			} else {
				_, err = FunctionBodies(bytes.NewReader(data), s)
			}
			wantFormatError(t, err, tt.offset, tt.msg)
		})
	}
}

func TestUnitsWrongSection(t *testing.T) {
	data := module(section(1, []byte{0}))
	s := parseBytes(t, data).Sections[0]
	_, err := DataSegments(bytes.NewReader(data), s)
	wantFormatError(t, err, 8, "expected 11")
	_, err = FunctionBodies(bytes.NewReader(data), s)
	wantFormatError(t, err, 8, "expected 10")
}

func TestUnitsShortReader(t *testing.T) {
	// The section declares 100 content bytes, but the reader contains only two.
	data := cat(modulePreamble, []byte{SectionModuleCode, 100, 1, 98})
	s := Section{ID: SectionModuleCode, Offset: 8, HeaderSize: 2, Size: 100}
	_, err := FunctionBodies(bytes.NewReader(data), s)
	// The body is skipped without reading, so the decoding succeeds. Parse
	// is what checks that the reader holds the declared bytes.
	if err != nil {
		t.Fatalf("FunctionBodies: %v", err)
	}
	data = cat(modulePreamble, []byte{SectionModuleData, 100, 1})
	s.ID = SectionModuleData
	_, err = DataSegments(bytes.NewReader(data), s)
	wantFormatError(t, err, 11, "truncated input")
}

// TestWindowRefill walks enough units that the reader has to refill its
// window many times, including inside an LEB128 that crosses a refill.
func TestWindowRefill(t *testing.T) {
	const count = 30000
	var bodies [][]byte
	for i := range count {
		// Bodies of 1 to 3 bytes with padded sizes shift where each window
		// ends relative to the LEB128s.
		n := i%3 + 1
		bodies = append(bodies, cat(leb5(uint32(n)), make([]byte, n)))
	}
	data := module(section(SectionModuleCode, vec(bodies...)))
	s := parseBytes(t, data).Sections[0]
	u, err := FunctionBodies(io.NewSectionReader(bytes.NewReader(data), 0, int64(len(data))), s)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Units) != count {
		t.Fatalf("got %d units, expected %d", len(u.Units), count)
	}
	checkUnits(t, s, u)
}
