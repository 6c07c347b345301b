package split

// FormatVersion is the version byte written at the start of every node and
// pack index. A reader rejects any other value.
const FormatVersion = 1

// Cut parameters of format version 1. They are part of the format: changing
// any of them changes root digests, so a change needs a new FormatVersion.
// The values were chosen by measuring the version pairs of the test corpus
// (see docs/format.md, "Choosing the parameters").
const (
	// InlineMax is the largest piece stored inside its node instead of as a
	// leaf, because a 32-byte digest would cost about as much as the bytes.
	InlineMax = 64

	// RunMin, RunTarget and RunMax bound the runs of whole data segments or
	// function bodies that form one leaf. RunTarget is a power of two: a unit
	// ends a run with probability of about one in RunTarget per byte.
	RunMin    = 1 << 10
	RunTarget = 1 << 12
	RunMax    = 1 << 14

	// ChunkMin, ChunkTarget and ChunkMax bound the byte-level chunks that cut
	// a unit larger than RunMax, a large custom section, or an opaque section.
	ChunkMin    = 1 << 11
	ChunkTarget = 1 << 13
	ChunkMax    = 1 << 15
)
