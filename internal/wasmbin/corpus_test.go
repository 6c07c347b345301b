package wasmbin

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// maxDecodeTime bounds TestCorpusTiming. Decoding each large corpus file
// takes milliseconds, and the bound leaves room for slow CI machines and the
// race detector.
const maxDecodeTime = time.Second

// corpusDir returns the folder named by WASMCAS_CORPUS, or skips the test
// when the variable is unset.
func corpusDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("WASMCAS_CORPUS")
	if dir == "" {
		tb.Skip("WASMCAS_CORPUS is not set; set it to the corpus folder to run this test")
	}
	return dir
}

// corpusFiles returns the .wasm files under dir, split into well-formed ones
// and the malformed ones under edge/bad.
func corpusFiles(tb testing.TB, dir string) (good, bad []string) {
	tb.Helper()
	badDir := filepath.Join(dir, "edge", "bad") + string(filepath.Separator)
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".wasm") {
			return err
		}
		if strings.HasPrefix(path, badDir) {
			bad = append(bad, path)
		} else {
			good = append(good, path)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("walk %s: %v", dir, err)
	}
	if len(good) == 0 {
		tb.Fatalf("no .wasm files under %s", dir)
	}
	return good, bad
}

func openFile(tb testing.TB, path string) (*os.File, int64) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	info, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	return f, info.Size()
}

// checkBinary checks that the sections of b and of every nested binary tile
// their binary, and that the code and data sections of every core module
// decode into units that tile the section content. It returns the number of
// core modules visited.
func checkBinary(t testing.TB, r io.ReaderAt, b *Binary) int {
	t.Helper()
	next := b.Offset + PreambleSize
	modules := 0
	if b.Kind == KindModule {
		modules++
	}
	for i, s := range b.Sections {
		if s.Offset != next {
			t.Errorf("binary at %d: section %d starts at %d, expected %d", b.Offset, i, s.Offset, next)
		}
		next = s.End()
		if s.Child != nil {
			if s.Child.Offset != s.ContentOffset() || s.Child.Size != s.Size {
				t.Errorf("section at %d: child spans [%d, +%d), expected [%d, +%d)", s.Offset, s.Child.Offset, s.Child.Size, s.ContentOffset(), s.Size)
			}
			modules += checkBinary(t, r, s.Child)
		}
		if b.Kind != KindModule {
			continue
		}
		switch s.ID {
		case SectionModuleData:
			u, err := DataSegments(r, s)
			if err != nil {
				t.Errorf("data section at %d: %v", s.Offset, err)
				continue
			}
			checkUnits(t, s, u)
		case SectionModuleCode:
			u, err := FunctionBodies(r, s)
			if err != nil {
				t.Errorf("code section at %d: %v", s.Offset, err)
				continue
			}
			checkUnits(t, s, u)
		}
	}
	if next != b.Offset+b.Size {
		t.Errorf("binary at %d: sections end at %d, expected %d", b.Offset, next, b.Offset+b.Size)
	}
	return modules
}

// checkUnits checks that u has Count units that follow the count LEB128
// without gaps and end at the section end.
func checkUnits(t testing.TB, s Section, u *Units) {
	t.Helper()
	if len(u.Units) != int(u.Count) {
		t.Errorf("section at %d: %d units, count says %d", s.Offset, len(u.Units), u.Count)
	}
	next := s.ContentOffset() + int64(u.CountSize)
	for i, unit := range u.Units {
		if unit.Offset != next || unit.Size <= 0 {
			t.Errorf("section at %d: unit %d spans [%d, +%d), expected to start at %d with a positive size", s.Offset, i, unit.Offset, unit.Size, next)
			return
		}
		next = unit.Offset + unit.Size
	}
	if next != s.End() {
		t.Errorf("section at %d: units end at %d, expected %d", s.Offset, next, s.End())
	}
}

func TestCorpusParse(t *testing.T) {
	dir := corpusDir(t)
	good, _ := corpusFiles(t, dir)
	for _, path := range good {
		name, _ := filepath.Rel(dir, path)
		t.Run(name, func(t *testing.T) {
			f, size := openFile(t, path)
			b, err := Parse(f, 0, size)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if b.Size != size {
				t.Errorf("Size = %d, expected %d", b.Size, size)
			}
			checkBinary(t, f, b)
		})
	}
}

func TestCorpusBad(t *testing.T) {
	dir := corpusDir(t)
	_, bad := corpusFiles(t, dir)
	if len(bad) == 0 {
		t.Fatalf("no .wasm files under %s", filepath.Join(dir, "edge", "bad"))
	}
	for _, path := range bad {
		name, _ := filepath.Rel(dir, path)
		t.Run(name, func(t *testing.T) {
			f, size := openFile(t, path)
			_, err := Parse(f, 0, size)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse error = %v, expected a *FormatError", err)
			}
			t.Log(fe)
		})
	}
}

func TestCorpusNested(t *testing.T) {
	dir := corpusDir(t)
	f, size := openFile(t, filepath.Join(dir, "edge", "comp-nested.wasm"))
	b, err := Parse(f, 0, size)
	if err != nil {
		t.Fatal(err)
	}

	var kinds []Kind
	var customs []string
	var walk func(*Binary)
	walk = func(b *Binary) {
		kinds = append(kinds, b.Kind)
		for _, s := range b.Sections {
			if s.ID == SectionCustom {
				customs = append(customs, s.Name)
			}
			if s.Child != nil {
				walk(s.Child)
			}
		}
	}
	walk(b)

	// The outer component holds modules m1 and m2 and a component holding im.
	want := []Kind{KindComponent, KindModule, KindModule, KindComponent, KindModule}
	if len(kinds) != len(want) {
		t.Fatalf("kinds = %v, expected %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Errorf("kinds[%d] = %v, expected %v", i, kinds[i], want[i])
		}
	}

	for _, name := range []string{"inner-custom", "component-custom"} {
		if !strings.Contains(strings.Join(customs, "\n"), name) {
			t.Errorf("custom section %q not found in %q", name, customs)
		}
	}
}

// TestCorpusTiming decodes the largest corpus files and reports how long the
// code and data sections take, failing only far above the expected time.
func TestCorpusTiming(t *testing.T) {
	dir := corpusDir(t)
	for _, name := range []string{"pairs/js-hello-v1.wasm", "pairs/go-hello-v1.wasm"} {
		t.Run(name, func(t *testing.T) {
			f, size := openFile(t, filepath.Join(dir, name))
			start := time.Now()
			b, err := Parse(f, 0, size)
			if err != nil {
				t.Fatal(err)
			}
			units := 0
			var walk func(*Binary)
			walk = func(b *Binary) {
				for _, s := range b.Sections {
					if s.Child != nil {
						walk(s.Child)
					}
					if b.Kind != KindModule {
						continue
					}
					var u *Units
					var err error
					switch s.ID {
					case SectionModuleCode:
						u, err = FunctionBodies(f, s)
					case SectionModuleData:
						u, err = DataSegments(f, s)
					default:
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					units += len(u.Units)
				}
			}
			walk(b)
			elapsed := time.Since(start)
			t.Logf("%d units in %v", units, elapsed)
			if elapsed > maxDecodeTime {
				t.Errorf("decoding took %v, expected under %v", elapsed, maxDecodeTime)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	dir := corpusDir(b)
	f, size := openFile(b, filepath.Join(dir, "pairs", "js-hello-v1.wasm"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(f, 0, size); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnits decodes the code and data sections of the largest corpus
// module, about 10,000 data segments and a 9 MB code section.
func BenchmarkUnits(b *testing.B) {
	dir := corpusDir(b)
	f, size := openFile(b, filepath.Join(dir, "pairs", "js-hello-v1.wasm"))
	bin, err := Parse(f, 0, size)
	if err != nil {
		b.Fatal(err)
	}
	var sections []Section
	var collect func(*Binary)
	collect = func(bin *Binary) {
		for _, s := range bin.Sections {
			if s.Child != nil {
				collect(s.Child)
			}
			if bin.Kind == KindModule && (s.ID == SectionModuleCode || s.ID == SectionModuleData) {
				sections = append(sections, s)
			}
		}
	}
	collect(bin)
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range sections {
			var err error
			if s.ID == SectionModuleCode {
				_, err = FunctionBodies(f, s)
			} else {
				_, err = DataSegments(f, s)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
