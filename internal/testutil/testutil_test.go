package testutil

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestULEB(t *testing.T) {
	cases := []struct {
		value uint64
		want  []byte
	}{
		{0, []byte{0x00}},
		{1, []byte{0x01}},
		{127, []byte{0x7f}},
		{128, []byte{0x80, 0x01}},
		{624485, []byte{0xe5, 0x8e, 0x26}},
		{1<<32 - 1, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}},
		{1<<64 - 1, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	}
	for _, c := range cases {
		if got := ULEB(c.value); !bytes.Equal(got, c.want) {
			t.Errorf("ULEB(%d) = % x, want % x", c.value, got, c.want)
		}
	}
}

func TestPaddedULEB(t *testing.T) {
	cases := []struct {
		value uint64
		width int
		want  []byte
	}{
		{0, 1, []byte{0x00}},
		{0, 5, []byte{0x80, 0x80, 0x80, 0x80, 0x00}},
		{3, 2, []byte{0x83, 0x00}},
		{127, 5, []byte{0xff, 0x80, 0x80, 0x80, 0x00}},
		{128, 5, []byte{0x80, 0x81, 0x80, 0x80, 0x00}},
		{624485, 4, []byte{0xe5, 0x8e, 0xa6, 0x00}},
		{1<<32 - 1, 5, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}},
		{1<<64 - 1, 10, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	}
	for _, c := range cases {
		if got := PaddedULEB(c.value, c.width); !bytes.Equal(got, c.want) {
			t.Errorf("PaddedULEB(%d, %d) = % x, want % x", c.value, c.width, got, c.want)
		}
	}
}

func TestPaddedULEBPanics(t *testing.T) {
	cases := []struct {
		name  string
		value uint64
		width int
	}{
		{"zero width", 0, 0},
		{"width over 10", 0, 11},
		{"value too large", 128, 1},
		{"u32 max in 4 bytes", 1<<32 - 1, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("PaddedULEB(%d, %d) did not panic", c.value, c.width)
				}
			}()
			PaddedULEB(c.value, c.width)
		})
	}
}

func TestName(t *testing.T) {
	if got, want := Name(""), []byte{0x00}; !bytes.Equal(got, want) {
		t.Errorf(`Name("") = % x, want % x`, got, want)
	}
	if got, want := Name("abc"), []byte{0x03, 'a', 'b', 'c'}; !bytes.Equal(got, want) {
		t.Errorf(`Name("abc") = % x, want % x`, got, want)
	}
}

func TestVector(t *testing.T) {
	if got, want := Vector(), []byte{0x00}; !bytes.Equal(got, want) {
		t.Errorf("Vector() = % x, want % x", got, want)
	}

	got := Vector([]byte{0x7f}, []byte{0x60, 0x00, 0x00})
	want := []byte{0x02, 0x7f, 0x60, 0x00, 0x00}
	if !bytes.Equal(got, want) {
		t.Errorf("Vector of two items = % x, want % x", got, want)
	}
}

func TestSection(t *testing.T) {
	got := Section(DataSectionID, []byte{0xaa, 0xbb})
	want := []byte{0x0b, 0x02, 0xaa, 0xbb}
	if !bytes.Equal(got, want) {
		t.Errorf("Section = % x, want % x", got, want)
	}

	if got, want := Section(TypeSectionID, nil), []byte{0x01, 0x00}; !bytes.Equal(got, want) {
		t.Errorf("empty Section = % x, want % x", got, want)
	}
}

func TestSectionLargeSize(t *testing.T) {
	content := make([]byte, 200)
	got := Section(CodeSectionID, content)

	if want := []byte{0x0a, 0xc8, 0x01}; !bytes.Equal(got[:3], want) {
		t.Errorf("Section header = % x, want % x", got[:3], want)
	}
	if len(got) != 3+len(content) {
		t.Errorf("Section length = %d, want %d", len(got), 3+len(content))
	}
}

func TestPaddedSection(t *testing.T) {
	got := PaddedSection(CodeSectionID, []byte{0x01, 0x02, 0x03}, 5)
	want := []byte{0x0a, 0x83, 0x80, 0x80, 0x80, 0x00, 0x01, 0x02, 0x03}
	if !bytes.Equal(got, want) {
		t.Errorf("PaddedSection width 5 = % x, want % x", got, want)
	}

	got = PaddedSection(CustomSectionID, nil, 1)
	want = []byte{0x00, 0x00}
	if !bytes.Equal(got, want) {
		t.Errorf("PaddedSection width 1 = % x, want % x", got, want)
	}
}

func TestPaddedSectionPanics(t *testing.T) {
	for _, width := range []int{0, 6, 10} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("PaddedSection width %d did not panic", width)
				}
			}()
			PaddedSection(DataSectionID, []byte{0x00}, width)
		}()
	}
}

func TestCustomSection(t *testing.T) {
	got := CustomSection("hi", []byte{0x01})
	want := []byte{0x00, 0x04, 0x02, 'h', 'i', 0x01}
	if !bytes.Equal(got, want) {
		t.Errorf(`CustomSection("hi") = % x, want % x`, got, want)
	}
}

func TestCustomSectionEmptyName(t *testing.T) {
	got := CustomSection("", []byte{0xfe, 0xff})
	want := []byte{0x00, 0x03, 0x00, 0xfe, 0xff}
	if !bytes.Equal(got, want) {
		t.Errorf(`CustomSection("") = % x, want % x`, got, want)
	}

	if got, want := CustomSection("", nil), []byte{0x00, 0x01, 0x00}; !bytes.Equal(got, want) {
		t.Errorf(`CustomSection("", nil) = % x, want % x`, got, want)
	}
}

func TestModuleEmpty(t *testing.T) {
	want := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	if got := Module(); !bytes.Equal(got, want) {
		t.Errorf("Module() = % x, want % x", got, want)
	}
}

func TestModuleSectionOrder(t *testing.T) {
	got := Module(Section(TypeSectionID, []byte{0x00}), CustomSection("", nil))
	want := []byte{
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x01, 0x00,
		0x00, 0x01, 0x00,
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Module = % x, want % x", got, want)
	}
}

func TestModuleDoesNotAlias(t *testing.T) {
	first := Module(Section(TypeSectionID, []byte{0x00}))
	second := Module(Section(DataSectionID, []byte{0x00}))

	if first[8] != TypeSectionID {
		t.Errorf("first module section id = %d after building a second, want %d", first[8], TypeSectionID)
	}
	if second[8] != DataSectionID {
		t.Errorf("second module section id = %d, want %d", second[8], DataSectionID)
	}
	if ModuleHeader[4] != 0x01 {
		t.Errorf("ModuleHeader was modified: % x", ModuleHeader)
	}
}

func TestComponentEmpty(t *testing.T) {
	want := []byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00}
	if got := Component(); !bytes.Equal(got, want) {
		t.Errorf("Component() = % x, want % x", got, want)
	}
}

func TestNestedModule(t *testing.T) {
	inner := Module()
	got := Component(Nested(CoreModuleSectionID, inner))
	want := []byte{
		0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00,
		0x01, 0x08,
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	}
	if !bytes.Equal(got, want) {
		t.Errorf("component with nested module = % x, want % x", got, want)
	}
	if !bytes.Equal(NestedModule(inner), Nested(CoreModuleSectionID, inner)) {
		t.Errorf("NestedModule differs from Nested(CoreModuleSectionID, ...)")
	}
}

func TestNestedComponent(t *testing.T) {
	inner := Component()
	got := Nested(ComponentSectionID, inner)
	want := []byte{
		0x04, 0x08,
		0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00,
	}
	if !bytes.Equal(got, want) {
		t.Errorf("nested component section = % x, want % x", got, want)
	}
	if !bytes.Equal(NestedComponent(inner), got) {
		t.Errorf("NestedComponent differs from Nested(ComponentSectionID, ...)")
	}
}

func TestNestedRejectsOtherKinds(t *testing.T) {
	for _, kind := range []byte{CustomSectionID, CoreInstanceSectionID, AliasSectionID} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Nested(%d, ...) did not panic", kind)
				}
			}()
			Nested(kind, Module())
		}()
	}
}

func TestCorpusSkipsWhenUnset(t *testing.T) {
	t.Setenv(CorpusEnv, "")

	skipped := runInSubtest(t, func(t *testing.T) {
		Corpus(t)
	})
	if !skipped {
		t.Errorf("Corpus did not skip with %s empty", CorpusEnv)
	}
}

func TestCorpusFilesSplitBad(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root,
		"b.wasm",
		"a/z.wasm",
		"a/notes.txt",
		"edge/core.wasm",
		"edge/bad/short.wasm",
		"edge/bad/x/deeper.wasm",
		"edge/badly-named.wasm",
	)
	t.Setenv(CorpusEnv, root)

	wantGood := []string{
		filepath.Join(root, "a", "z.wasm"),
		filepath.Join(root, "b.wasm"),
		filepath.Join(root, "edge", "badly-named.wasm"),
		filepath.Join(root, "edge", "core.wasm"),
	}
	if got := CorpusFiles(t); !slices.Equal(got, wantGood) {
		t.Errorf("CorpusFiles = %q, want %q", got, wantGood)
	}

	wantBad := []string{
		filepath.Join(root, "edge", "bad", "short.wasm"),
		filepath.Join(root, "edge", "bad", "x", "deeper.wasm"),
	}
	if got := BadCorpusFiles(t); !slices.Equal(got, wantBad) {
		t.Errorf("BadCorpusFiles = %q, want %q", got, wantBad)
	}
}

func TestCorpusRelativePath(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, "one.wasm")
	t.Chdir(root)
	t.Setenv(CorpusEnv, ".")

	if got := Corpus(t); got != root {
		t.Errorf("Corpus = %q, want %q", got, root)
	}
}

// runInSubtest runs body as a subtest and reports whether it was skipped.
func runInSubtest(t *testing.T, body func(t *testing.T)) bool {
	t.Helper()

	var skipped bool
	t.Run("inner", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		body(t)
	})
	return skipped
}

// writeFiles creates each slash-separated path under root with a few bytes
// of content.
func writeFiles(t *testing.T, root string, paths ...string) {
	t.Helper()

	for _, path := range paths {
		full := filepath.Join(root, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("\x00asm"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// testdataDir is the repository's testdata directory, relative to this
// package's directory, where go test runs the tests.
const testdataDir = "../../testdata"

func TestSamplesMatchTestdata(t *testing.T) {
	samples := map[string][]byte{
		"padded-leb.wasm":       PaddedLEBComponent(),
		"custom-placement.wasm": CustomPlacementModule(),
	}
	for name, want := range samples {
		got, err := os.ReadFile(filepath.Join(testdataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/%s differs from its builder; run scripts/build-testdata.sh", name)
		}
	}
}

func TestTestdataChecksums(t *testing.T) {
	sums, err := os.ReadFile(filepath.Join(testdataDir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}

	lines := strings.Split(strings.TrimSpace(string(sums)), "\n")
	if len(lines) == 0 {
		t.Fatal("testdata/SHA256SUMS is empty")
	}
	for _, line := range lines {
		wantSum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Errorf("testdata/SHA256SUMS: malformed line %q", line)
			continue
		}

		content, err := os.ReadFile(filepath.Join(testdataDir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		sum := sha256.Sum256(content)
		if got := hex.EncodeToString(sum[:]); got != wantSum {
			t.Errorf("testdata/%s: sha256 %s, SHA256SUMS lists %s", name, got, wantSum)
		}
	}
}

// sectionHeader is one section as splitSections finds it: the id, the bytes
// of its size field and its content.
type sectionHeader struct {
	id       byte
	sizeBits []byte
	content  []byte
}

// splitSections splits a binary after its 8-byte header into sections. It
// is a minimal reader for checking the builders, not a validating parser.
func splitSections(t *testing.T, binary []byte) []sectionHeader {
	t.Helper()

	var sections []sectionHeader
	rest := binary[8:]
	for len(rest) > 0 {
		id := rest[0]
		rest = rest[1:]

		var size uint64
		width := 0
		for {
			if width >= len(rest) || width >= 5 {
				t.Fatalf("section id %d: size field is truncated or longer than 5 bytes", id)
			}
			b := rest[width]
			size |= uint64(b&0x7f) << (7 * width)
			width++
			if b&0x80 == 0 {
				break
			}
		}
		if uint64(len(rest)-width) < size {
			t.Fatalf("section id %d: size %d exceeds the %d remaining bytes", id, size, len(rest)-width)
		}

		sections = append(sections, sectionHeader{
			id:       id,
			sizeBits: rest[:width],
			content:  rest[width : width+int(size)],
		})
		rest = rest[width+int(size):]
	}
	return sections
}

func TestPaddedLEBComponentSizes(t *testing.T) {
	component := PaddedLEBComponent()
	if !bytes.Equal(component[:8], ComponentHeader) {
		t.Fatalf("header = % x, want % x", component[:8], ComponentHeader)
	}

	outer := splitSections(t, component)
	wantOuter := []byte{CoreModuleSectionID, CustomSectionID}
	if len(outer) != len(wantOuter) {
		t.Fatalf("component has %d sections, want %d", len(outer), len(wantOuter))
	}
	for i, section := range outer {
		if section.id != wantOuter[i] {
			t.Errorf("component section %d: id %d, want %d", i, section.id, wantOuter[i])
		}
		if len(section.sizeBits) != 5 {
			t.Errorf("component section %d: size field is %d bytes, want 5", i, len(section.sizeBits))
		}
	}

	module := outer[0].content
	if !bytes.Equal(module[:8], ModuleHeader) {
		t.Fatalf("nested module header = % x, want % x", module[:8], ModuleHeader)
	}
	inner := splitSections(t, module)
	wantInner := []byte{
		TypeSectionID, FunctionSectionID, MemorySectionID, ExportSectionID,
		CodeSectionID, CustomSectionID, DataSectionID,
	}
	if len(inner) != len(wantInner) {
		t.Fatalf("nested module has %d sections, want %d", len(inner), len(wantInner))
	}
	for i, section := range inner {
		if section.id != wantInner[i] {
			t.Errorf("nested module section %d: id %d, want %d", i, section.id, wantInner[i])
		}
		if len(section.sizeBits) != 5 {
			t.Errorf("nested module section %d: size field is %d bytes, want 5", i, len(section.sizeBits))
		}
	}
}

func TestCustomPlacementModuleOrder(t *testing.T) {
	module := CustomPlacementModule()
	if !bytes.Equal(module[:8], ModuleHeader) {
		t.Fatalf("header = % x, want % x", module[:8], ModuleHeader)
	}

	sections := splitSections(t, module)
	want := []struct {
		id   byte
		name string
	}{
		{CustomSectionID, ""},
		{TypeSectionID, ""},
		{CustomSectionID, "wasmcas.after-type"},
		{FunctionSectionID, ""},
		{MemorySectionID, ""},
		{CustomSectionID, "wasmcas.empty-payload"},
		{ExportSectionID, ""},
		{CodeSectionID, ""},
		{CustomSectionID, "between"},
		{DataSectionID, ""},
		{CustomSectionID, "wasmcas.last"},
	}
	if len(sections) != len(want) {
		t.Fatalf("module has %d sections, want %d", len(sections), len(want))
	}
	for i, section := range sections {
		if section.id != want[i].id {
			t.Errorf("section %d: id %d, want %d", i, section.id, want[i].id)
			continue
		}
		if section.id != CustomSectionID {
			continue
		}
		nameLength := int(section.content[0])
		if got := string(section.content[1 : 1+nameLength]); got != want[i].name {
			t.Errorf("section %d: custom name %q, want %q", i, got, want[i].name)
		}
	}
}

func TestCorpusFilesShared(t *testing.T) {
	root := Corpus(t)

	good := CorpusFiles(t)
	for _, path := range good {
		if strings.Contains(filepath.ToSlash(path), "/edge/bad/") {
			t.Errorf("CorpusFiles includes %s from edge/bad/", path)
		}
		if !strings.HasPrefix(path, root) {
			t.Errorf("CorpusFiles path %s is outside corpus %s", path, root)
		}
	}
	if !slices.IsSorted(good) {
		t.Errorf("CorpusFiles is not sorted")
	}

	bad := BadCorpusFiles(t)
	for _, path := range bad {
		if !strings.Contains(filepath.ToSlash(path), "/edge/bad/") {
			t.Errorf("BadCorpusFiles includes %s from outside edge/bad/", path)
		}
	}
	if !slices.IsSorted(bad) {
		t.Errorf("BadCorpusFiles is not sorted")
	}
}
