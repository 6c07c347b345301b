package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
)

// The synthetic component is one component with one nested core module.
// The module holds a code section of many function bodies, a data section of
// large active segments and large DWARF-named custom sections. The bytes come
// from seeded PRNGs, so the file is the same on every run and machine, and
// they are mixed (instruction-like code, random blocks, zero runs, text) so
// that content-defined chunking finds cut points at realistic rates.
const (
	synthSeed = 0x7761736d636173 // "wasmcas"

	// Shares of the file, by section kind. The last custom section takes
	// whatever is left so that the file has exactly the requested size.
	synthCodeShare = 0.375
	synthDataShare = 0.25
)

// synthPlan holds the sizes of every part of the synthetic file, fixed before
// any byte is written because section headers carry their sizes.
type synthPlan struct {
	bodies   []int // function body sizes, without their size LEB128
	segments []int // data segment payload sizes
	customs  []synthCustom
}

type synthCustom struct {
	name string
	size int // payload size, after the name
}

func lebSize(v uint64) int {
	return len(binary.AppendUvarint(nil, v))
}

// planSynth chooses the sizes for a file of total bytes.
func planSynth(total int64) (*synthPlan, error) {
	if total < 1<<20 {
		return nil, fmt.Errorf("synthetic size %d is too small; use at least 1 MiB", total)
	}
	rng := rand.New(rand.NewPCG(synthSeed, 1))
	p := &synthPlan{}

	codeBudget := int64(float64(total) * synthCodeShare)
	for used := int64(0); used < codeBudget; {
		// Log-uniform between 16 bytes and 16 KiB: most bodies are small and
		// a few are large, as in compiled code.
		size := int(16 * pow2(rng.Float64()*10))
		p.bodies = append(p.bodies, size)
		used += int64(size + lebSize(uint64(size)))
	}

	dataBudget := int64(float64(total) * synthDataShare)
	for used := int64(0); used < dataBudget; {
		size := int(256 * pow2(rng.Float64()*14)) // 256 B to 4 MiB
		p.segments = append(p.segments, size)
		used += int64(size + 16)
	}

	rest := total - p.fixedSize()
	p.customs = []synthCustom{
		{".debug_str", int(rest / 6)},
		{".debug_line", int(rest / 4)},
		{".debug_info", 0}, // sized below
	}
	// Grow the last section until the whole file has exactly total bytes.
	// Its header and the module section's header grow by a byte at LEB128
	// boundaries, so a few rounds are needed.
	for range 8 {
		diff := total - p.fileSize()
		if diff == 0 {
			return p, nil
		}
		p.customs[2].size += int(diff)
	}
	return nil, fmt.Errorf("cannot size the synthetic file to exactly %d bytes", total)
}

func pow2(x float64) float64 {
	r := 1.0
	for x >= 1 {
		r *= 2
		x--
	}
	// 2^x for x in [0, 1), close enough for a size distribution.
	return r * (1 + x*(0.6931+x*0.2402))
}

// synthType is the module's type section content: one type, [] -> [].
var synthType = []byte{0x01, 0x60, 0x00, 0x00}

func sectionSize(content int64) int64 {
	return 1 + int64(lebSize(uint64(content))) + content
}

func (p *synthPlan) functionContent() int64 {
	return int64(lebSize(uint64(len(p.bodies)))) + int64(len(p.bodies))
}

func (p *synthPlan) codeContent() int64 {
	n := int64(lebSize(uint64(len(p.bodies))))
	for _, s := range p.bodies {
		n += int64(lebSize(uint64(s)) + s)
	}
	return n
}

func segmentOffset(i int) uint32 { return uint32(i) * 64 }

func segmentHeader(i, size int) []byte {
	h := []byte{0x00, 0x41}
	h = appendSLEB(h, int64(segmentOffset(i)))
	h = append(h, 0x0b)
	return binary.AppendUvarint(h, uint64(size))
}

func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func (p *synthPlan) dataContent() int64 {
	n := int64(lebSize(uint64(len(p.segments))))
	for i, s := range p.segments {
		n += int64(len(segmentHeader(i, s)) + s)
	}
	return n
}

func customContent(c synthCustom) int64 {
	return int64(lebSize(uint64(len(c.name))) + len(c.name) + c.size)
}

var synthMemory = []byte{0x01, 0x00, 0x80, 0x80, 0x04} // one memory, min 65536 pages

func (p *synthPlan) moduleSize() int64 {
	n := int64(8)
	n += sectionSize(int64(len(synthType)))
	n += sectionSize(p.functionContent())
	n += sectionSize(int64(len(synthMemory)))
	n += sectionSize(p.codeContent())
	n += sectionSize(p.dataContent())
	for _, c := range p.customs {
		n += sectionSize(customContent(c))
	}
	return n
}

// fixedSize is the file size without the custom sections' payloads.
func (p *synthPlan) fixedSize() int64 {
	q := *p
	q.customs = nil
	return 8 + sectionSize(q.moduleSize())
}

func (p *synthPlan) fileSize() int64 {
	return 8 + sectionSize(p.moduleSize())
}

// writeSynth writes the synthetic component of exactly total bytes to path.
func writeSynth(path string, total int64) error {
	p, err := planSynth(total)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	g := newFiller(synthSeed)

	header := func(id byte, size int64) {
		w.WriteByte(id)
		w.Write(binary.AppendUvarint(nil, uint64(size)))
	}

	w.Write([]byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00}) // component
	header(0x01, p.moduleSize())                                    // core module section
	w.Write([]byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}) // core module

	header(0x01, int64(len(synthType)))
	w.Write(synthType)

	header(0x03, p.functionContent())
	w.Write(binary.AppendUvarint(nil, uint64(len(p.bodies))))
	w.Write(make([]byte, len(p.bodies))) // every function has type 0

	header(0x05, int64(len(synthMemory)))
	w.Write(synthMemory)

	header(0x0a, p.codeContent())
	w.Write(binary.AppendUvarint(nil, uint64(len(p.bodies))))
	var body []byte
	for _, size := range p.bodies {
		w.Write(binary.AppendUvarint(nil, uint64(size)))
		body = g.functionBody(body[:0], size)
		w.Write(body)
	}

	header(0x0b, p.dataContent())
	w.Write(binary.AppendUvarint(nil, uint64(len(p.segments))))
	for i, size := range p.segments {
		w.Write(segmentHeader(i, size))
		if err := g.mixed(w, int64(size)); err != nil {
			return err
		}
	}

	for _, c := range p.customs {
		header(0x00, customContent(c))
		w.Write(binary.AppendUvarint(nil, uint64(len(c.name))))
		w.WriteString(c.name)
		if err := g.mixed(w, int64(c.size)); err != nil {
			return err
		}
	}

	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Size() != total {
		return fmt.Errorf("synthetic file %s has %d bytes, expected %d", path, st.Size(), total)
	}
	return nil
}

// filler is a source of deterministic pseudo-random content.
type filler struct {
	rng   *rand.Rand
	bytes *rand.ChaCha8
	block []byte
}

func newFiller(seed uint64) *filler {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return &filler{
		rng:   rand.New(rand.NewPCG(seed, 2)),
		bytes: rand.NewChaCha8(key),
		block: make([]byte, 4096),
	}
}

// functionBody appends a body of exactly size bytes: one local declaration,
// then instruction-like bytes (opcodes with LEB128 immediates), then end.
func (g *filler) functionBody(b []byte, size int) []byte {
	if size < 4 {
		b = append(b, 0x00) // no locals
		for len(b) < size-1 {
			b = append(b, 0x01) // nop
		}
		return append(b, 0x0b)
	}
	b = append(b, 0x01, 0x02, 0x7f) // two i32 locals
	for len(b) < size-1 {
		var ins []byte
		var tmp [12]byte
		switch r := g.rng.Uint32(); r % 8 {
		case 0, 1:
			ins = append(tmp[:0], 0x20, byte(r>>8)%4) // local.get
		case 2:
			ins = append(tmp[:0], 0x21, byte(r>>8)%4) // local.set
		case 3:
			ins = appendSLEB(append(tmp[:0], 0x41), int64(int32(r>>4))>>uint(r%24)) // i32.const
		case 4:
			ins = binary.AppendUvarint(append(tmp[:0], 0x10), uint64(r>>12)) // call
		case 5:
			ins = binary.AppendUvarint(append(tmp[:0], 0x28, 0x02), uint64(r>>16)) // i32.load
		case 6:
			ins = binary.AppendUvarint(append(tmp[:0], 0x36, 0x02), uint64(r>>16)) // i32.store
		default:
			ins = append(tmp[:0], 0x6a+byte(r>>8)%3) // i32.add, sub, mul
		}
		if len(b)+len(ins) > size-1 {
			ins = ins[:0]
			for len(b)+len(ins) < size-1 {
				ins = append(ins, 0x01)
			}
		}
		b = append(b, ins...)
	}
	return append(b, 0x0b)
}

// mixed writes n bytes made of 4 KiB blocks that are random, mostly zero or
// lowercase text, chosen at random.
func (g *filler) mixed(w *bufio.Writer, n int64) error {
	for n > 0 {
		blk := g.block
		if int64(len(blk)) > n {
			blk = blk[:n]
		}
		switch g.rng.Uint32() % 4 {
		case 0, 1:
			g.bytes.Read(blk)
		case 2:
			clear(blk)
			for i := 0; i < len(blk); i += 1 + int(g.rng.Uint32()%64) {
				blk[i] = byte(g.rng.Uint32())
			}
		default:
			for i := range blk {
				r := g.rng.Uint32()
				if r%7 == 0 {
					blk[i] = ' '
				} else {
					blk[i] = 'a' + byte(r>>8)%26
				}
			}
		}
		if _, err := w.Write(blk); err != nil {
			return err
		}
		n -= int64(len(blk))
	}
	return nil
}
