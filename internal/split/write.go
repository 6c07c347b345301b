package split

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/wasmcas/wasmcas/internal/transfer"
)

// Target is the destination of artifacts: an OCI image layout or a registry
// repository. Both oras-go's oci.Store and remote.Repository satisfy it.
type Target interface {
	oras.Target
	registry.TagLister
}

// Packing parameters. They change how leaves are stored, never a digest.
const (
	// PackTarget is the size at which a new pack is closed. Packs grow past
	// it only when an artifact would otherwise exceed MaxBlobs.
	PackTarget = 4 << 20
	// RepackFraction is the share of an existing pack's bytes that an
	// artifact must need for the pack to be referenced. Below it, the needed
	// leaves are copied into new packs. A fetch from a registry that ignores
	// Range requests then does not download a pack that is mostly unneeded.
	RepackFraction = 0.125
	// MaxExistingArtifacts bounds how many artifacts of a target are read to
	// learn which leaves it holds.
	MaxExistingArtifacts = 16
)

// Existing is the record of a target's stored leaves: the leaves of the
// artifacts that LoadExisting read, and their packs.
type Existing struct {
	Leaves    map[Digest]LeafLocation
	Packs     map[Digest]ocispec.Descriptor // pack digest to the pack's descriptor
	Indexes   map[Digest]ocispec.Descriptor // pack digest to its index's descriptor
	PackIndex map[Digest]*PackIndex
	Artifacts []string // the tags that were read
	// Skipped lists tags whose artifacts could not be read, with the
	// reason; their leaves are packed again rather than failing the write.
	Skipped []string
}

// NewExisting returns an empty Existing, for a target with nothing in it.
func NewExisting() *Existing {
	return &Existing{
		Leaves:    map[Digest]LeafLocation{},
		Packs:     map[Digest]ocispec.Descriptor{},
		Indexes:   map[Digest]ocispec.Descriptor{},
		PackIndex: map[Digest]*PackIndex{},
	}
}

// LoadExisting reads up to MaxExistingArtifacts tagged artifacts of t and
// records their leaves. The tag prefer is read first when it exists. Then
// come the tags in reverse of the order the target lists them. Registries
// and oras-go's layout store list tags in lexical order, so for tags such as
// dates or zero-padded versions these are the newest. Tags that are not
// wasmcas artifacts are skipped. So are artifacts that cannot be read, and
// Skipped lists them.
func LoadExisting(ctx context.Context, t Target, prefer string) (*Existing, error) {
	ex := NewExisting()
	var tags []string
	err := t.Tags(ctx, "", func(page []string) error {
		tags = append(tags, page...)
		return nil
	})
	if err != nil && !errors.Is(err, errdef.ErrNotFound) {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	slices.Reverse(tags)
	if prefer != "" && slices.Contains(tags, prefer) {
		tags = slices.DeleteFunc(tags, func(s string) bool { return s == prefer })
		tags = append([]string{prefer}, tags...)
	}
	if len(tags) > MaxExistingArtifacts {
		tags = tags[:MaxExistingArtifacts]
	}
	for _, tag := range tags {
		desc, err := t.Resolve(ctx, tag)
		if err != nil {
			return nil, fmt.Errorf("resolve tag %s: %w", tag, err)
		}
		if desc.MediaType != ocispec.MediaTypeImageManifest {
			continue
		}
		st, err := OpenArtifact(ctx, t, desc)
		if errors.Is(err, ErrNotArtifact) {
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			ex.Skipped = append(ex.Skipped, fmt.Sprintf("%s: %v", tag, err))
			continue
		}
		ex.Add(st)
		ex.Artifacts = append(ex.Artifacts, tag)
	}
	return ex, nil
}

// Add records the leaves of a stored artifact.
func (ex *Existing) Add(st *Stored) {
	for _, index := range st.Indexes {
		ex.Packs[index.Pack] = st.Packs[index.Pack]
		ex.Indexes[index.Pack] = st.IndexDescriptors[index.Pack]
		ex.PackIndex[index.Pack] = index
	}
	for d, loc := range st.Leaves() {
		if _, ok := ex.Leaves[d]; !ok {
			ex.Leaves[d] = loc
		}
	}
}

// Blob is one blob of a planned artifact.
type Blob struct {
	Descriptor ocispec.Descriptor
	// Data holds the bytes of a node, pack index or config. It is nil for a
	// pack, whose bytes are read from the source binary when pushed.
	Data []byte
	pack []*Leaf
	// Existing reports whether the blob came from an artifact the target
	// already stores.
	Existing bool
}

// Plan is an artifact ready to be written: the tree, every blob, and the
// manifest, which is written last.
type Plan struct {
	Root       *Node
	FileDigest Digest
	Config     Config
	Blobs      []*Blob // config first, then layers in manifest order
	Manifest   []byte
	Descriptor ocispec.Descriptor
	// Leaves counts the distinct leaves; RepackedLeaves those copied out of
	// an existing pack by the RepackFraction rule.
	Leaves, RepackedLeaves int
}

// NewPlan packs the leaves of root that ex lacks, reading them from src,
// and references ex's packs for the rest. wit, when not nil, is recorded in
// the config.
func NewPlan(root *Node, src io.ReaderAt, fileDigest Digest, ex *Existing, wit json.RawMessage) (*Plan, error) {
	p := &Plan{Root: root, FileDigest: fileDigest}

	var nodes []*Node
	seenNodes := map[Digest]bool{}
	var leaves []*Leaf
	seenLeaves := map[Digest]bool{}
	var collect func(n *Node)
	collect = func(n *Node) {
		if !seenNodes[n.Digest] {
			seenNodes[n.Digest] = true
			nodes = append(nodes, n)
		}
		for _, s := range n.Sections {
			if s.Child != nil {
				collect(s.Child)
			}
			for _, piece := range s.Pieces {
				if piece.Leaf != nil && !seenLeaves[piece.Leaf.Digest] {
					seenLeaves[piece.Leaf.Digest] = true
					leaves = append(leaves, piece.Leaf)
				}
			}
		}
	}
	collect(root)
	p.Leaves = len(leaves)

	// Decide which leaves come from existing packs. A pack is referenced
	// only if the leaves needed from it pass RepackFraction of its bytes.
	neededFromPack := map[Digest]int64{}
	for _, leaf := range leaves {
		if loc, ok := ex.Leaves[leaf.Digest]; ok {
			neededFromPack[mustDigest(loc.Pack.Digest)] += leaf.Size
		}
	}
	var newCode, newCustom []*Leaf
	referenced := map[Digest]bool{}
	var referencedOrder []Digest
	for _, leaf := range leaves {
		if loc, ok := ex.Leaves[leaf.Digest]; ok {
			pd := mustDigest(loc.Pack.Digest)
			if float64(neededFromPack[pd]) >= RepackFraction*float64(loc.Pack.Size) {
				if !referenced[pd] {
					referenced[pd] = true
					referencedOrder = append(referencedOrder, pd)
				}
				continue
			}
			p.RepackedLeaves++
		}
		if leaf.Custom {
			newCustom = append(newCustom, leaf)
		} else {
			newCode = append(newCode, leaf)
		}
	}

	// Size packs so that the artifact stays within MaxBlobs: one blob for
	// the config, one per node, and two (pack and index) per pack.
	var newBytes int64
	for _, leaf := range slices.Concat(newCode, newCustom) {
		newBytes += leaf.Size
	}
	room := MaxBlobs - 1 - len(nodes) - 2*len(referencedOrder) - 2 // two packs may be partly filled
	if room < 2 {
		return nil, fmt.Errorf("artifact would need more than %d blobs: %d nodes and %d referenced packs", MaxBlobs, len(nodes), len(referencedOrder))
	}
	// Greedy packing can leave up to one leaf of room unused at the end of
	// each pack, so the size needed for room/2 packs adds that much.
	packSize := int64(PackTarget)
	if need := newBytes/int64(room/2) + maxLeafSize; need > packSize {
		packSize = need
	}

	configBlob, err := p.config(root, fileDigest, wit)
	if err != nil {
		return nil, err
	}
	p.Blobs = append(p.Blobs, configBlob)
	for _, n := range nodes {
		p.Blobs = append(p.Blobs, &Blob{Descriptor: nodeDescriptor(n), Data: n.Encoded})
	}
	var packs []*Blob
	for _, pd := range referencedOrder {
		packs = append(packs,
			&Blob{Descriptor: ex.Indexes[pd], Existing: true},
			&Blob{Descriptor: ex.Packs[pd], Existing: true})
	}
	for _, class := range [][]*Leaf{newCode, newCustom} {
		blobs, err := packLeaves(src, class, packSize)
		if err != nil {
			return nil, err
		}
		packs = append(packs, blobs...)
	}
	p.Blobs = append(p.Blobs, sortPacks(packs)...)
	if len(p.Blobs) > MaxBlobs {
		return nil, fmt.Errorf("artifact needs %d blobs, more than the limit of %d", len(p.Blobs), MaxBlobs)
	}
	return p, p.manifest()
}

func mustDigest(d digest.Digest) Digest {
	parsed, _ := ParseDigest(d.String())
	return parsed
}

func (p *Plan) config(root *Node, fileDigest Digest, wit json.RawMessage) (*Blob, error) {
	p.Config = Config{
		FormatVersion: FormatVersion,
		Kind:          kindName(root.Kind),
		Size:          root.Size,
		Root:          root.Digest.String(),
		FileDigest:    fileDigest.String(),
		WIT:           wit,
	}
	data, err := json.Marshal(p.Config)
	if err != nil {
		return nil, err
	}
	return &Blob{Descriptor: ocispec.Descriptor{MediaType: MediaTypeConfig, Digest: digest.FromBytes(data), Size: int64(len(data))}, Data: data}, nil
}

// packLeaves groups leaves, in tree order, into packs of about packSize
// bytes and returns each pack's index blob followed by the pack blob. Pack
// digests are computed here by reading the leaves from src once.
func packLeaves(src io.ReaderAt, leaves []*Leaf, packSize int64) ([]*Blob, error) {
	var blobs []*Blob
	for start := 0; start < len(leaves); {
		end := start
		var size int64
		for end < len(leaves) && (end == start || size+leaves[end].Size <= packSize) {
			size += leaves[end].Size
			end++
		}
		group := leaves[start:end]
		start = end

		hash := sha256.New()
		if _, err := io.Copy(hash, packReader(src, group)); err != nil {
			return nil, fmt.Errorf("read leaves for a pack: %w", err)
		}
		var packDigest Digest
		hash.Sum(packDigest[:0])

		index := &PackIndex{Pack: packDigest, Custom: group[0].Custom}
		var offset int64
		for _, leaf := range group {
			index.Entries = append(index.Entries, PackEntry{Digest: leaf.Digest, Size: leaf.Size, Offset: offset})
			offset += leaf.Size
		}
		indexData := index.Encode()
		class := "code"
		if index.Custom {
			class = "custom"
		}
		annotations := map[string]string{AnnotationPackClass: class}
		blobs = append(blobs,
			&Blob{Descriptor: ocispec.Descriptor{MediaType: MediaTypePackIndex, Digest: digest.FromBytes(indexData), Size: int64(len(indexData)), Annotations: annotations}, Data: indexData},
			&Blob{Descriptor: ocispec.Descriptor{MediaType: MediaTypePack, Digest: digest.Digest(packDigest.String()), Size: size, Annotations: annotations}, pack: group})
	}
	return blobs, nil
}

// packReader returns the concatenated bytes of leaves, read from src.
func packReader(src io.ReaderAt, leaves []*Leaf) io.Reader {
	readers := make([]io.Reader, len(leaves))
	for i, leaf := range leaves {
		readers[i] = io.NewSectionReader(src, leaf.Offset, leaf.Size)
	}
	return io.MultiReader(readers...)
}

func (p *Plan) manifest() error {
	m := ocispec.Manifest{
		Versioned:    specsVersioned,
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactType,
		Config:       p.Blobs[0].Descriptor,
		Annotations: map[string]string{
			AnnotationRoot:     p.Root.Digest.String(),
			AnnotationFile:     p.FileDigest.String(),
			AnnotationFileSize: strconv.FormatInt(p.Root.Size, 10),
			AnnotationFormat:   strconv.Itoa(FormatVersion),
		},
	}
	for _, b := range p.Blobs[1:] {
		m.Layers = append(m.Layers, b.Descriptor)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if len(data) > MaxManifestSize {
		return fmt.Errorf("manifest of %d bytes exceeds the limit of %d", len(data), MaxManifestSize)
	}
	p.Manifest = data
	p.Descriptor = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: ArtifactType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	return nil
}

// Bytes returns the total size of the artifact's blobs, manifest excluded.
func (p *Plan) Bytes() int64 {
	var total int64
	for _, b := range p.Blobs {
		total += b.Descriptor.Size
	}
	return total
}

// PushStats counts what Push sent.
type PushStats struct {
	Blobs         int
	BlobsUploaded int
	Bytes         int64
	BytesUploaded int64
}

// PushOptions tunes Push.
type PushOptions struct {
	Concurrency int
	// Retry bounds the attempts to push one blob. A pack's body is a
	// stream that an HTTP transport cannot replay, so blobs are retried
	// here, each attempt with a fresh body.
	Retry transfer.RetryPolicy
	// Progress, when set, is called after each blob with its size and
	// whether it was uploaded. It may be called from several goroutines.
	Progress func(desc ocispec.Descriptor, uploaded bool)
}

// Push writes the plan's blobs that t lacks, in parallel, then the manifest,
// then tags it. The manifest comes last, so t never contains a manifest
// that names a missing blob. A Push that is interrupted and run again
// uploads only the blobs still missing. src must be the binary the plan's
// leaves were cut from.
func (p *Plan) Push(ctx context.Context, t Target, src io.ReaderAt, tag string, opts PushOptions) (PushStats, error) {
	var uploaded, uploadedBytes atomic.Int64
	err := transfer.Run(ctx, opts.Concurrency, p.Blobs, func(ctx context.Context, b *Blob) error {
		exists, err := t.Exists(ctx, b.Descriptor)
		if err != nil {
			return fmt.Errorf("check blob %s: %w", b.Descriptor.Digest, err)
		}
		if !exists {
			if b.Existing {
				return fmt.Errorf("blob %s of an existing artifact is missing from the target; run again to repack it", b.Descriptor.Digest)
			}
			err := transfer.Retry(ctx, opts.Retry, isRetryablePush, func(ctx context.Context) error {
				var r io.Reader = bytes.NewReader(b.Data)
				if b.Data == nil {
					r = packReader(src, b.pack)
				}
				err := t.Push(ctx, b.Descriptor, r)
				if errors.Is(err, errdef.ErrAlreadyExists) {
					return nil
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("push blob %s: %w", b.Descriptor.Digest, err)
			}
			uploaded.Add(1)
			uploadedBytes.Add(b.Descriptor.Size)
		}
		if opts.Progress != nil {
			opts.Progress(b.Descriptor, !exists)
		}
		return nil
	})
	stats := PushStats{Blobs: len(p.Blobs), Bytes: p.Bytes(), BlobsUploaded: int(uploaded.Load()), BytesUploaded: uploadedBytes.Load()}
	if err != nil {
		return stats, err
	}

	if pusher, ok := t.(registry.ReferencePusher); ok && tag != "" {
		err = pusher.PushReference(ctx, p.Descriptor, bytes.NewReader(p.Manifest), tag)
	} else {
		err = t.Push(ctx, p.Descriptor, bytes.NewReader(p.Manifest))
		if errors.Is(err, errdef.ErrAlreadyExists) {
			err = nil
		}
		if err == nil && tag != "" {
			err = t.Tag(ctx, p.Descriptor, tag)
		}
	}
	if err != nil {
		return stats, fmt.Errorf("push manifest %s: %w", p.Descriptor.Digest, err)
	}
	return stats, nil
}

// Existing returns what a target holds after p was pushed to it: the
// leaves of p's packs and where they are. It lets a caller plan a second
// artifact against the first without a target, as diff does.
func (p *Plan) Existing() (*Existing, error) {
	ex := NewExisting()
	for i, b := range p.Blobs {
		if b.Descriptor.MediaType != MediaTypePackIndex {
			continue
		}
		if b.Data == nil || i+1 >= len(p.Blobs) {
			continue
		}
		index, err := DecodePackIndex(b.Data)
		if err != nil {
			return nil, err
		}
		pack := p.Blobs[i+1].Descriptor
		ex.Packs[index.Pack] = pack
		ex.Indexes[index.Pack] = b.Descriptor
		ex.PackIndex[index.Pack] = index
		shared := &pack
		for _, e := range index.Entries {
			ex.Leaves[e.Digest] = LeafLocation{Pack: shared, Offset: e.Offset, Size: e.Size}
		}
	}
	return ex, nil
}

// isRetryablePush reports whether a failed blob push is worth another
// attempt: a transient network error, or a registry's 5xx or 429 response
// that reached oras-go after its single attempt.
func isRetryablePush(err error) bool {
	if transfer.IsTransient(err) {
		return true
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		return resp.StatusCode >= 500 || resp.StatusCode == 429
	}
	return false
}

// sortPacks orders (pack index, pack) pairs by pack digest, so that the
// same content published again, under another tag or after other versions,
// gives the same manifest whether its packs are new or referenced.
func sortPacks(blobs []*Blob) []*Blob {
	pairs := make([][2]*Blob, 0, len(blobs)/2)
	for i := 0; i+1 < len(blobs); i += 2 {
		pairs = append(pairs, [2]*Blob{blobs[i], blobs[i+1]})
	}
	slices.SortFunc(pairs, func(a, b [2]*Blob) int {
		return strings.Compare(a[1].Descriptor.Digest.String(), b[1].Descriptor.Digest.String())
	})
	sorted := make([]*Blob, 0, len(blobs))
	for _, pair := range pairs {
		sorted = append(sorted, pair[0], pair[1])
	}
	return sorted
}
