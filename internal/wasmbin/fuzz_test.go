package wasmbin

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// maxFuzzSeedSize keeps the larger corpus files out of the seeds, because
// the fuzzer copies and mutates whole inputs. In the first seconds of a run
// on a 2-core machine, seeds of up to 1 MiB gave about 2,500 executions per
// second, and this limit about 35,000. The edge cases and the small
// components remain.
//
// NOTE: the Go fuzzer spends up to -fuzzminimizetime (60s by default)
// minimizing each input that finds new coverage, and counts no executions
// meanwhile. Pass -fuzzminimizetime=1s to keep a short run executing.
const maxFuzzSeedSize = 16 << 10

func FuzzParse(f *testing.F) {
	f.Add(modulePreamble)
	f.Add(componentPreamble)
	f.Add(module(
		paddedSection(1, []byte{0x01, 0x60, 0x00, 0x00}),
		section(SectionCustom, name("")),
		section(SectionModuleCode, vec(cat(leb(2), []byte{0x00, opEnd}))),
		section(SectionModuleData, vec(
			[]byte{0, opI32Const, 8, opEnd, 1, 'a'},
			[]byte{1, 0},
			[]byte{2, 1, opI64Const, 0x40, opGlobalGet, 0, opI64Add, opEnd, 0},
		)),
	))
	f.Add(component(
		section(SectionComponentCoreModule, module(section(SectionModuleData, vec([]byte{1, 1, 'x'})))),
		section(SectionComponent, component(section(SectionComponentCoreModule, modulePreamble))),
	))
	if dir := os.Getenv("WASMCAS_CORPUS"); dir != "" {
		good, bad := corpusFiles(f, dir)
		for _, path := range append(good, bad...) {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			if len(data) <= maxFuzzSeedSize {
				f.Add(data)
			}
		}
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		b, err := Parse(r, 0, int64(len(data)))
		if err != nil {
			checkFuzzError(t, err, len(data))
			return
		}
		if b.Offset != 0 || b.Size != int64(len(data)) {
			t.Fatalf("binary spans [%d, +%d), expected [0, +%d)", b.Offset, b.Size, len(data))
		}
		fuzzBinary(t, data, b, 1)
	})
}

// checkFuzzError checks that err is a *FormatError with an offset inside the
// input or just past it, since a bytes.Reader never fails otherwise.
func checkFuzzError(t *testing.T, err error, size int) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v, expected a *FormatError", err)
	}
	if fe.Offset < 0 || fe.Offset > int64(size) {
		t.Fatalf("error offset %d is outside [0, %d]: %v", fe.Offset, size, fe)
	}
	if fe.Error() == "" {
		t.Fatalf("empty error message")
	}
}

// fuzzBinary checks that the sections of b tile it, that nesting stays
// within MaxDepth, and that every code and data section of a core module
// either decodes into units that tile it or fails with a *FormatError.
func fuzzBinary(t *testing.T, data []byte, b *Binary, depth int) {
	t.Helper()
	if depth > MaxDepth {
		t.Fatalf("binary at %d is nested %d deep, above MaxDepth", b.Offset, depth)
	}
	if !bytes.Equal(b.Preamble[:], data[b.Offset:b.Offset+PreambleSize]) {
		t.Fatalf("binary at %d: Preamble = % x, input has % x", b.Offset, b.Preamble, data[b.Offset:b.Offset+PreambleSize])
	}
	next := b.Offset + PreambleSize
	for _, s := range b.Sections {
		if s.Offset != next || s.HeaderSize < 2 || s.HeaderSize > 6 || s.Size < 0 {
			t.Fatalf("binary at %d: section %+v, expected it at %d with a 2 to 6 byte header", b.Offset, s, next)
		}
		if s.ID == SectionCustom && int64(s.NameSize) > s.Size {
			t.Fatalf("section at %d: NameSize %d exceeds Size %d", s.Offset, s.NameSize, s.Size)
		}
		next = s.End()
		if s.Child != nil {
			if s.Child.Offset != s.ContentOffset() || s.Child.Size != s.Size {
				t.Fatalf("section at %d: child does not span the section content", s.Offset)
			}
			fuzzBinary(t, data, s.Child, depth+1)
		}
		if b.Kind != KindModule {
			continue
		}
		var u *Units
		var err error
		switch s.ID {
		case SectionModuleData:
			u, err = DataSegments(bytes.NewReader(data), s)
		case SectionModuleCode:
			u, err = FunctionBodies(bytes.NewReader(data), s)
		default:
			continue
		}
		if err != nil {
			checkFuzzError(t, err, len(data))
			continue
		}
		checkUnits(t, s, u)
	}
	if next != b.Offset+b.Size {
		t.Fatalf("binary at %d: sections end at %d, expected %d", b.Offset, next, b.Offset+b.Size)
	}
}
