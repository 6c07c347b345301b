package split

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/wasmcas/wasmcas/internal/transfer"
	"github.com/wasmcas/wasmcas/internal/wasmbin"
)

// Media types, artifact type and annotations of a wasmcas artifact.
const (
	ArtifactType        = "application/vnd.wasmcas.component.v1"
	MediaTypeConfig     = "application/vnd.wasmcas.config.v1+json"
	MediaTypeNode       = "application/vnd.wasmcas.node.v1"
	MediaTypePackIndex  = "application/vnd.wasmcas.pack-index.v1"
	MediaTypePack       = "application/vnd.wasmcas.pack.v1"
	AnnotationRoot      = "dev.wasmcas.root"
	AnnotationFile      = "dev.wasmcas.file.digest"
	AnnotationFileSize  = "dev.wasmcas.file.size"
	AnnotationFormat    = "dev.wasmcas.format.version"
	AnnotationPackClass = "dev.wasmcas.pack.class"
)

// Limits every artifact stays within, so that registries with small
// manifest limits accept it (Distribution's default is 4 MiB; several
// hosted registries reject larger layer counts well before that).
const (
	MaxBlobs        = 1024
	MaxManifestSize = 512 << 10
)

// Config is the JSON config blob of an artifact.
type Config struct {
	FormatVersion int             `json:"formatVersion"`
	Kind          string          `json:"kind"`
	Size          int64           `json:"size"`
	Root          string          `json:"root"`
	FileDigest    string          `json:"fileDigest"`
	WIT           json.RawMessage `json:"wit,omitempty"`
}

// LeafLocation is the range of a pack that stores a leaf. Pack points to
// a descriptor shared by all the pack's leaves, because an artifact can
// have hundreds of thousands of leaves and a descriptor is large.
type LeafLocation struct {
	Pack   *ocispec.Descriptor
	Offset int64
	Size   int64
}

// Stored is an artifact read from a target: its manifest, config and pack
// indexes, verified against their digests, but no node or leaf.
type Stored struct {
	Descriptor ocispec.Descriptor
	Manifest   ocispec.Manifest
	Config     Config
	Root       Digest
	FileDigest Digest
	FileSize   int64
	Nodes      map[Digest]ocispec.Descriptor
	Packs      map[Digest]ocispec.Descriptor
	Indexes    []*PackIndex
	// IndexDescriptors maps a pack's digest to its index's descriptor.
	IndexDescriptors map[Digest]ocispec.Descriptor

	leaves map[Digest]LeafLocation
}

// ErrNotArtifact is returned for a manifest that is not a wasmcas artifact.
var ErrNotArtifact = errors.New("not a wasmcas artifact")

// maxReadManifestSize is the largest manifest OpenArtifact reads.
const maxReadManifestSize = 4 << 20

// maxSmallBlob bounds what OpenArtifact reads into memory for a manifest,
// config or pack index, whatever size a descriptor claims.
const maxSmallBlob = 64 << 20

// OpenArtifact reads the manifest desc from f with its config and pack
// indexes, and checks that they are consistent.
func OpenArtifact(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor) (*Stored, error) {
	// Readers accept manifests up to Distribution's default limit of 4 MiB,
	// larger than what this writer produces, so that other writers of the
	// format are not rejected for layer annotations wasmcas does not add.
	if desc.Size > maxReadManifestSize {
		return nil, fmt.Errorf("manifest %s of %d bytes exceeds the limit", desc.Digest, desc.Size)
	}
	raw, err := content.FetchAll(ctx, f, desc)
	if err != nil {
		return nil, fmt.Errorf("fetch manifest %s: %w", desc.Digest, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: invalid JSON: %w", desc.Digest, err)
	}
	if m.ArtifactType != ArtifactType || m.Config.MediaType != MediaTypeConfig {
		return nil, fmt.Errorf("manifest %s: %w (artifact type %q)", desc.Digest, ErrNotArtifact, m.ArtifactType)
	}
	st := &Stored{
		Descriptor: desc, Manifest: m,
		Nodes: map[Digest]ocispec.Descriptor{}, Packs: map[Digest]ocispec.Descriptor{},
		IndexDescriptors: map[Digest]ocispec.Descriptor{},
	}
	if st.Root, err = ParseDigest(m.Annotations[AnnotationRoot]); err != nil {
		return nil, fmt.Errorf("manifest %s: annotation %s: %w", desc.Digest, AnnotationRoot, err)
	}
	if st.FileDigest, err = ParseDigest(m.Annotations[AnnotationFile]); err != nil {
		return nil, fmt.Errorf("manifest %s: annotation %s: %w", desc.Digest, AnnotationFile, err)
	}
	if st.FileSize, err = strconv.ParseInt(m.Annotations[AnnotationFileSize], 10, 64); err != nil || st.FileSize < 0 {
		return nil, fmt.Errorf("manifest %s: invalid annotation %s %q", desc.Digest, AnnotationFileSize, m.Annotations[AnnotationFileSize])
	}

	if m.Config.Size > maxSmallBlob {
		return nil, fmt.Errorf("config %s of %d bytes exceeds the limit", m.Config.Digest, m.Config.Size)
	}
	rawConfig, err := content.FetchAll(ctx, f, m.Config)
	if err != nil {
		return nil, fmt.Errorf("fetch config %s: %w", m.Config.Digest, err)
	}
	if err := json.Unmarshal(rawConfig, &st.Config); err != nil {
		return nil, fmt.Errorf("config %s: invalid JSON: %w", m.Config.Digest, err)
	}
	if st.Config.FormatVersion != FormatVersion || m.Annotations[AnnotationFormat] != strconv.Itoa(FormatVersion) {
		return nil, fmt.Errorf("manifest %s: unsupported format version %d (annotation %q); this build reads version %d",
			desc.Digest, st.Config.FormatVersion, m.Annotations[AnnotationFormat], FormatVersion)
	}
	if st.Config.Root != st.Root.String() || st.Config.FileDigest != st.FileDigest.String() || st.Config.Size != st.FileSize {
		return nil, fmt.Errorf("manifest %s: annotations (root %s, file %s, %d bytes) disagree with config %s (root %s, file %s, %d bytes)",
			desc.Digest, st.Root, st.FileDigest, st.FileSize, m.Config.Digest, st.Config.Root, st.Config.FileDigest, st.Config.Size)
	}

	var indexes []ocispec.Descriptor
	for _, layer := range m.Layers {
		d, err := ParseDigest(layer.Digest.String())
		if err != nil {
			return nil, fmt.Errorf("manifest %s: layer: %w", desc.Digest, err)
		}
		switch layer.MediaType {
		case MediaTypeNode:
			st.Nodes[d] = layer
		case MediaTypePack:
			st.Packs[d] = layer
		case MediaTypePackIndex:
			indexes = append(indexes, layer)
		}
	}
	if _, ok := st.Nodes[st.Root]; !ok {
		return nil, fmt.Errorf("manifest %s: root node %s is not a layer", desc.Digest, st.Root)
	}
	// Pack indexes are fetched in parallel, because each is a round trip
	// to the registry before any leaf can be located.
	raws := make([][]byte, len(indexes))
	err = transfer.Run(ctx, indexConcurrency, indexPositions(len(indexes)), func(ctx context.Context, i int) error {
		layer := indexes[i]
		if layer.Size > maxSmallBlob {
			return fmt.Errorf("pack index %s of %d bytes exceeds the limit", layer.Digest, layer.Size)
		}
		raw, err := content.FetchAll(ctx, f, layer)
		if err != nil {
			return fmt.Errorf("fetch pack index %s: %w", layer.Digest, err)
		}
		raws[i] = raw
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, layer := range indexes {
		index, err := DecodePackIndex(raws[i])
		if err != nil {
			return nil, fmt.Errorf("pack index %s: %w", layer.Digest, err)
		}
		pack, ok := st.Packs[index.Pack]
		if !ok {
			return nil, fmt.Errorf("pack index %s names pack %s, which is not a layer of manifest %s", layer.Digest, index.Pack, desc.Digest)
		}
		if pack.Size != index.Size() {
			return nil, fmt.Errorf("pack index %s describes %d bytes but pack %s has %d", layer.Digest, index.Size(), index.Pack, pack.Size)
		}
		st.Indexes = append(st.Indexes, index)
		st.IndexDescriptors[index.Pack] = layer
	}
	return st, nil
}

// Leaves returns where each leaf of the artifact is stored, built from the
// pack indexes on the first call. A fetch does not need it, so the map is
// not kept for artifacts of hundreds of thousands of leaves unless asked.
func (st *Stored) Leaves() map[Digest]LeafLocation {
	if st.leaves != nil {
		return st.leaves
	}
	st.leaves = map[Digest]LeafLocation{}
	for _, index := range st.Indexes {
		pack := st.Packs[index.Pack]
		shared := &pack
		for _, e := range index.Entries {
			st.leaves[e.Digest] = LeafLocation{Pack: shared, Offset: e.Offset, Size: e.Size}
		}
	}
	return st.leaves
}

// Kind returns the kind recorded in the config.
func (st *Stored) Kind() string { return st.Config.Kind }

// nodeDescriptor returns the descriptor of an encoded node.
func nodeDescriptor(n *Node) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: MediaTypeNode, Digest: digest.Digest(n.Digest.String()), Size: int64(len(n.Encoded))}
}

// TargetSource serves the nodes and leaves of a stored artifact from the
// content store it was read from. Leaves are read as ranges of their packs;
// a pack whose reader cannot seek is read whole once and kept.
type TargetSource struct {
	Fetcher content.Fetcher
	Stored  *Stored

	packs map[Digest]io.ReaderAt
	open  []io.Closer
}

// Node fetches a node blob.
func (s *TargetSource) Node(ctx context.Context, d Digest) ([]byte, error) {
	desc, ok := s.Stored.Nodes[d]
	if !ok {
		return nil, fmt.Errorf("node %s is not a layer of manifest %s: %w", d, s.Stored.Descriptor.Digest, ErrNotFound)
	}
	if desc.Size > MaxNodeSize {
		return nil, fmt.Errorf("node %s of %d bytes exceeds the limit of %d", d, desc.Size, MaxNodeSize)
	}
	return content.FetchAll(ctx, s.Fetcher, desc)
}

// Leaf reads a leaf from its pack.
func (s *TargetSource) Leaf(ctx context.Context, d Digest, size int64) ([]byte, error) {
	loc, ok := s.Stored.Leaves()[d]
	if !ok || loc.Size != size {
		return nil, fmt.Errorf("leaf %s is in no pack of manifest %s: %w", d, s.Stored.Descriptor.Digest, ErrNotFound)
	}
	packDigest, _ := ParseDigest(loc.Pack.Digest.String())
	r, err := s.pack(ctx, packDigest, *loc.Pack)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	if _, err := r.ReadAt(buf, loc.Offset); err != nil {
		return nil, fmt.Errorf("read leaf %s from pack %s at offset %d: %w", d, loc.Pack.Digest, loc.Offset, err)
	}
	return buf, nil
}

func (s *TargetSource) pack(ctx context.Context, d Digest, desc ocispec.Descriptor) (io.ReaderAt, error) {
	if r, ok := s.packs[d]; ok {
		return r, nil
	}
	if s.packs == nil {
		s.packs = map[Digest]io.ReaderAt{}
	}
	rc, err := s.Fetcher.Fetch(ctx, desc)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return nil, fmt.Errorf("pack %s: %w", desc.Digest, ErrNotFound)
		}
		return nil, fmt.Errorf("fetch pack %s: %w", desc.Digest, err)
	}
	if ra, ok := rc.(io.ReaderAt); ok {
		s.open = append(s.open, rc)
		s.packs[d] = ra
		return ra, nil
	}
	defer rc.Close()
	buf, err := content.ReadAll(rc, desc)
	if err != nil {
		return nil, fmt.Errorf("read pack %s: %w", desc.Digest, err)
	}
	ra := bytesReaderAt(buf)
	s.packs[d] = ra
	return ra, nil
}

// Close closes the packs the source opened.
func (s *TargetSource) Close() error {
	var errs []error
	for _, c := range s.open {
		errs = append(errs, c.Close())
	}
	s.open, s.packs = nil, nil
	return errors.Join(errs...)
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.ErrUnexpectedEOF
	}
	return n, nil
}

// kindName returns the config's name for a node kind.
func kindName(k wasmbin.Kind) string { return k.String() }

// indexConcurrency bounds the pack indexes fetched at once.
const indexConcurrency = 8

// indexPositions returns 0, 1, ..., n-1.
func indexPositions(n int) []int {
	positions := make([]int, n)
	for i := range positions {
		positions[i] = i
	}
	return positions
}
