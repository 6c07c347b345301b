package registry

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/wasmcas/wasmcas/internal/atomicfile"
	"github.com/wasmcas/wasmcas/internal/cache"
	"github.com/wasmcas/wasmcas/internal/split"
	"github.com/wasmcas/wasmcas/internal/transfer"
)

// FetchOptions tune Fetch.
type FetchOptions struct {
	Cache *cache.Cache
	// Seeds are binaries on disk whose leaves are taken into the cache
	// before anything is downloaded.
	Seeds []string
	// Digest, when set, is the root digest the artifact must have.
	Digest      string
	Concurrency int
	Retry       transfer.RetryPolicy
	// Planned is called once the download is known, with the bytes to
	// download; Downloaded is called as bytes arrive.
	Planned    func(ranges int, bytes int64)
	Downloaded func(n int64)
	// Filter leaves out custom sections; Select names the nested module or
	// component to write instead of the whole binary ("" or "/" for all).
	Filter split.Filter
	Select string
	// Stdout receives the output when output is "-". Bytes are written in
	// file order while later parts are still downloading.
	Stdout io.Writer
}

// FetchResult is the summary of a fetch.
type FetchResult struct {
	Reference       string `json:"reference"`
	Digest          string `json:"digest"`
	Output          string `json:"output"`
	Size            int64  `json:"size"`
	SHA256          string `json:"sha256"`
	Blobs           int    `json:"blobs"`
	BlobsDownloaded int    `json:"blobs_downloaded"`
	BytesDownloaded int64  `json:"bytes_downloaded"`
	BytesCached     int64  `json:"bytes_cached"`
	// Select is the path of the nested binary written, when not the root.
	Select string `json:"select,omitempty"`
	// SHA256Checked reports whether the output was checked against the
	// whole-file SHA-256 the publisher recorded. A filtered or selected
	// output cannot be: every part of it was verified against the root
	// digest instead, and every omitted section is named below.
	SHA256Checked   bool                   `json:"sha256_checked"`
	OmittedSections []split.OmittedSection `json:"omitted_sections,omitempty"`
	OmittedBytes    int64                  `json:"omitted_bytes,omitempty"`
}

// nodeConcurrency bounds the node blobs fetched at once.
const nodeConcurrency = 8

// rangeGap is the largest gap between two needed leaves of a pack that one
// Range request still spans. Up to this size, reading unneeded bytes costs
// about as much as the headers and round trip of another request. Larger
// gaps are not read, because a pack that an artifact shares with an older
// version interleaves leaves both need with leaves only the older one does.
const rangeGap = 1 << 10

// fetcher downloads the blobs of one artifact through the cache and counts
// what it downloads.
type fetcher struct {
	t          *Target
	cache      *cache.Cache
	st         *split.Stored
	downloaded atomic.Int64
	blobs      blobSet
	onBytes    func(int64)
	retry      transfer.RetryPolicy

	// pending tracks the leaves still being downloaded.
	// packNeeds lists, per pack digest, every leaf of that pack the fetch
	// downloads, in pack order.
	packNeeds map[string][]split.PackEntry
	pending   *pendingLeaves
}

// blobSet counts the distinct blobs that downloads touched.
type blobSet struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (s *blobSet) add(d string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[d] = true
}

func (s *blobSet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

func (f *fetcher) countBytes(n int64) {
	f.downloaded.Add(n)
	if f.onBytes != nil {
		f.onBytes(n)
	}
}

// Fetch implements content.Fetcher for small blobs (config, pack indexes,
// nodes): from the cache when it has them, otherwise from the target, and
// the cache keeps each one after it verified.
func (f *fetcher) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	d, err := split.ParseDigest(desc.Digest.String())
	if err != nil {
		return nil, err
	}
	if data, err := f.cache.Get(d); err == nil {
		return io.NopCloser(strings.NewReader(string(data))), nil
	}
	data, err := f.fetchAll(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("%s: blob %s: %w", f.t.Describe(), desc.Digest, err)
	}
	f.countBytes(int64(len(data)))
	f.blobs.add(desc.Digest.String())
	if err := f.cache.Put(d, data); err != nil {
		return nil, err
	}
	return io.NopCloser(strings.NewReader(string(data))), nil
}

// Node implements split.Source for nodes.
func (f *fetcher) Node(ctx context.Context, d split.Digest) ([]byte, error) {
	desc, ok := f.st.Nodes[d]
	if !ok {
		return nil, fmt.Errorf("node %s is not a layer of the manifest: %w", d, split.ErrNotFound)
	}
	if desc.Size > split.MaxNodeSize {
		return nil, fmt.Errorf("node %s of %d bytes exceeds the limit", d, desc.Size)
	}
	return content.FetchAll(ctx, f, desc)
}

// VerifiesLeaves marks the fetcher as a split.VerifyingSource: Leaf returns
// only bytes that the cache checked against their digest as it read them.
func (f *fetcher) VerifiesLeaves() {}

// Leaf implements split.Source for leaves: it waits until a leaf being
// downloaded has verified and entered the cache, then reads it there.
func (f *fetcher) Leaf(ctx context.Context, d split.Digest, _ int64) ([]byte, error) {
	if err := f.pending.wait(ctx, d); err != nil {
		return nil, err
	}
	return f.cache.Get(d)
}

// Fetch downloads the artifact that t's reference names and writes the
// spliced binary to output atomically.
func Fetch(ctx context.Context, t *Target, output string, opts FetchOptions) (*FetchResult, error) {
	if opts.Cache == nil {
		return nil, errors.New("fetch needs a cache")
	}
	f, st, root, node, err := openArtifact(ctx, t, opts.Cache, opts.Digest, opts.Retry, opts.Select)
	if err != nil {
		return nil, err
	}
	f.onBytes = opts.Downloaded
	sel := split.Select(node, opts.Filter)
	whole := node == root && len(sel.Omitted) == 0

	needed := map[split.Digest]*split.Leaf{}
	for _, leaf := range sel.Leaves {
		needed[leaf.Digest] = leaf
	}
	for _, seed := range opts.Seeds {
		if err := seedCache(ctx, opts.Cache, seed, needed); err != nil {
			return nil, err
		}
	}

	var cached int64
	missing := map[split.Digest]bool{}
	for d, leaf := range needed {
		if opts.Cache.HasLeaf(d) {
			cached += leaf.Size
		} else {
			missing[d] = true
		}
	}
	ranges, err := planRanges(st, missing, sel.Leaves)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Ref, err)
	}
	f.packNeeds = map[string][]split.PackEntry{}
	for _, r := range ranges {
		key := r.pack.Digest.String()
		f.packNeeds[key] = append(f.packNeeds[key], r.entries...)
	}
	for _, entries := range f.packNeeds {
		slices.SortFunc(entries, func(a, b split.PackEntry) int { return int(a.Offset - b.Offset) })
	}
	if opts.Planned != nil {
		var total int64
		for _, r := range ranges {
			total += r.end - r.start
		}
		opts.Planned(len(ranges), total)
	}

	res := &FetchResult{
		Reference: t.Ref.String(), Digest: st.Root.String(), Output: output,
		Blobs: 1 + len(st.Manifest.Layers), BytesCached: cached,
		SHA256Checked: whole, OmittedSections: sel.Omitted, OmittedBytes: sel.OmittedBytes(),
	}
	if node != root {
		res.Select = opts.Select
	}
	write := func(w io.Writer) error {
		hash := sha256.New()
		n, err := f.spliceWhileDownloading(ctx, io.MultiWriter(w, hash), sel, ranges, missing, opts)
		if err != nil {
			return err
		}
		var got split.Digest
		hash.Sum(got[:0])
		if whole && (n != st.FileSize || got != st.FileDigest) {
			return fmt.Errorf("%s: spliced %d bytes with sha256 %s, but the manifest records %d bytes with %s", t.Ref, n, got, st.FileSize, st.FileDigest)
		}
		res.Size, res.SHA256 = n, got.String()
		return nil
	}
	if output == "-" {
		if opts.Stdout == nil {
			return nil, errors.New("output - needs a standard output")
		}
		err = write(opts.Stdout)
	} else {
		err = atomicfile.Write(output, write)
	}
	if err != nil {
		return nil, err
	}
	res.BlobsDownloaded = f.blobs.count()
	res.BytesDownloaded = f.downloaded.Load()
	return res, nil
}

// spliceWhileDownloading downloads ranges in the background and splices
// sel at the same time. The splice waits for each missing leaf until its
// range has arrived and the leaf has verified and entered the cache. So no
// byte is written before the part that contains it verified.
func (f *fetcher) spliceWhileDownloading(ctx context.Context, w io.Writer, sel *split.Selection, ranges []byteRange, missing map[split.Digest]bool, opts FetchOptions) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	f.pending = newPendingLeaves(missing)
	stop := context.AfterFunc(ctx, func() { f.pending.fail(ctx.Err()) })
	defer stop()
	done := make(chan struct{})
	var downloadErr error
	go func() {
		defer close(done)
		downloadErr = transfer.Run(ctx, opts.Concurrency, ranges, func(ctx context.Context, r byteRange) error {
			return transfer.Retry(ctx, opts.Retry, transfer.IsTransient, func(ctx context.Context) error {
				return f.fetchRange(ctx, r)
			})
		})
		if downloadErr != nil {
			f.pending.fail(downloadErr)
		}
	}()

	n, err := sel.Splice(ctx, w, f)
	cancel()
	<-done
	if downloadErr != nil && !errors.Is(downloadErr, context.Canceled) {
		return n, downloadErr
	}
	if err != nil {
		return n, fmt.Errorf("%s: %w", f.t.Ref, err)
	}
	return n, nil
}

// manifestCounter fetches the manifest from the target, never from the
// cache, because a tag can move; every other blob goes through the cache.
type manifestCounter struct{ fetcher *fetcher }

func (m *manifestCounter) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if desc.MediaType == ocispec.MediaTypeImageManifest {
		data, err := m.fetcher.fetchAll(ctx, desc)
		if err != nil {
			return nil, fmt.Errorf("%s: manifest %s: %w", m.fetcher.t.Describe(), desc.Digest, err)
		}
		m.fetcher.countBytes(int64(len(data)))
		return io.NopCloser(strings.NewReader(string(data))), nil
	}
	return m.fetcher.Fetch(ctx, desc)
}

// neededLeaves returns the distinct leaves of a loaded tree.
func neededLeaves(root *split.Node) map[split.Digest]*split.Leaf {
	needed := map[split.Digest]*split.Leaf{}
	split.Walk(root, func(_ string, n *split.Node) error {
		for _, s := range n.Sections {
			for _, p := range s.Pieces {
				if p.Leaf != nil {
					needed[p.Leaf.Digest] = p.Leaf
				}
			}
		}
		return nil
	})
	return needed
}

// seedCache splits a binary on disk and puts the leaves that the fetch
// needs into the cache. Each leaf's digest is computed from the bytes read,
// so what enters the cache is verified like a download.
func seedCache(ctx context.Context, c *cache.Cache, path string, needed map[split.Digest]*split.Leaf) error {
	file, err := split.OpenFile(ctx, path)
	if err != nil {
		return fmt.Errorf("--seed %w", err)
	}
	defer file.Close()
	src := split.NewBinarySource(file, file.Root)
	var batch []cache.Entry
	var batchBytes int
	for d, leaf := range needed {
		if c.HasLeaf(d) || !src.HasLeaf(d) {
			continue
		}
		data, err := split.ReadLeaf(ctx, src, leaf)
		if err != nil {
			return fmt.Errorf("--seed %s: %w", path, err)
		}
		batch = append(batch, cache.Entry{Digest: d, Data: data})
		batchBytes += len(data)
		if batchBytes >= cacheBatchSize {
			if err := c.PutMany(batch); err != nil {
				return fmt.Errorf("--seed %s: %w", path, err)
			}
			batch, batchBytes = batch[:0], 0
		}
	}
	if err := c.PutMany(batch); err != nil {
		return fmt.Errorf("--seed %s: %w", path, err)
	}
	return nil
}

// byteRange is a range of a pack to download and the leaves inside it.
type byteRange struct {
	pack       ocispec.Descriptor
	start, end int64
	entries    []split.PackEntry
}

// planRanges groups the missing leaves by pack and merges leaves that lie
// within rangeGap of each other into one range.
func planRanges(st *split.Stored, missing map[split.Digest]bool, order []*split.Leaf) ([]byteRange, error) {
	missing = maps.Clone(missing)
	var ranges []byteRange
	for _, index := range st.Indexes {
		pack := st.Packs[index.Pack]
		var current *byteRange
		for _, e := range index.Entries {
			if !missing[e.Digest] {
				continue
			}
			delete(missing, e.Digest)
			if current != nil && e.Offset-current.end <= rangeGap {
				current.end = e.Offset + e.Size
				current.entries = append(current.entries, e)
				continue
			}
			ranges = append(ranges, byteRange{pack: pack, start: e.Offset, end: e.Offset + e.Size, entries: []split.PackEntry{e}})
			current = &ranges[len(ranges)-1]
		}
	}
	if len(missing) > 0 {
		for d := range missing {
			return nil, fmt.Errorf("leaf %s is in no pack of manifest %s", d, st.Descriptor.Digest)
		}
	}
	// Ranges start in the order the splice needs their first leaf, so the
	// output can begin while later ranges are still downloading.
	position := make(map[split.Digest]int, len(order))
	for i, leaf := range order {
		position[leaf.Digest] = i
	}
	slices.SortStableFunc(ranges, func(a, b byteRange) int {
		return firstUse(a, position) - firstUse(b, position)
	})
	return ranges, nil
}

// fetchRange downloads one range of a pack, verifies each leaf in it, and
// puts the leaves in the cache. A registry that ignores the Range header
// sends the whole pack, from which the range is cut.
func (f *fetcher) fetchRange(ctx context.Context, r byteRange) error {
	// A registry that ignored an earlier Range request of this pack sent
	// the whole pack then, and its leaves are all in the cache.
	if f.allCached(r.entries) {
		return nil
	}
	body, whole, err := f.openRange(ctx, r)
	if err != nil {
		return err
	}
	defer body.Close()
	f.blobs.add(r.pack.Digest.String())

	entries, offset := r.entries, r.start
	if whole {
		// The whole pack is coming: take every leaf this fetch needs from
		// it, so the pack's other ranges need no request.
		entries, offset = f.packNeeds[r.pack.Digest.String()], 0
	}
	counted := &countingReader{r: body, count: f.countBytes}
	if _, err := io.CopyN(io.Discard, counted, entries[0].Offset-offset); err != nil {
		return fmt.Errorf("%s: pack %s: %w", f.t.Describe(), r.pack.Digest, err)
	}
	pos := entries[0].Offset
	batch := &cacheBatch{f: f}
	defer batch.abort()
	buf := make([]byte, split.MaxLeafSize)
	for _, e := range entries {
		if _, err := io.CopyN(io.Discard, counted, e.Offset-pos); err != nil {
			return fmt.Errorf("%s: pack %s: %w", f.t.Describe(), r.pack.Digest, err)
		}
		if e.Size > int64(len(buf)) {
			return fmt.Errorf("%s: pack %s: leaf %s of %d bytes exceeds the format's maximum", f.t.Describe(), r.pack.Digest, e.Digest, e.Size)
		}
		data := buf[:e.Size]
		if _, err := io.ReadFull(counted, data); err != nil {
			return fmt.Errorf("%s: pack %s at offset %d: %w", f.t.Describe(), r.pack.Digest, e.Offset, err)
		}
		if err := batch.add(e.Digest, data); err != nil {
			var de *split.DigestError
			if errors.As(err, &de) {
				return fmt.Errorf("%s: pack %s: leaf %s does not match its digest (got %s); nothing was written",
					f.t.Describe(), r.pack.Digest, e.Digest, de.Got)
			}
			return err
		}
		pos = e.Offset + e.Size
	}
	return batch.flush()
}

// cacheBatchSize is how many leaf bytes a fetch writes into one cache pack
// before it commits the pack and marks its leaves ready, so a streamed
// output can go on while a large range still arrives.
const cacheBatchSize = 4 << 20

// cacheBatch streams verified leaves into cache packs and marks them ready
// for the splice once each pack is committed.
type cacheBatch struct {
	f      *fetcher
	writer *cache.PackWriter
}

// add verifies a leaf and writes it to the current cache pack. data is
// copied, so the caller may reuse it.
func (b *cacheBatch) add(d split.Digest, data []byte) error {
	if b.writer == nil {
		w, err := b.f.cache.NewPackWriter()
		if err != nil {
			return err
		}
		b.writer = w
	}
	cached, err := b.writer.Add(d, data)
	if err != nil {
		return err
	}
	if cached {
		// Another download or process stored it first.
		b.f.pending.done(d)
	}
	if b.writer.Size() >= cacheBatchSize {
		return b.flush()
	}
	return nil
}

func (b *cacheBatch) flush() error {
	if b.writer == nil {
		return nil
	}
	w := b.writer
	b.writer = nil
	added, err := w.Commit()
	if err != nil {
		return err
	}
	for _, d := range added {
		b.f.pending.done(d)
	}
	return nil
}

// abort discards an uncommitted cache pack after a failed download.
func (b *cacheBatch) abort() {
	if b.writer != nil {
		b.writer.Abort()
		b.writer = nil
	}
}

// openRange returns a reader of the range, or of the whole pack (whole is
// true) when the registry ignored the Range header.
func (f *fetcher) openRange(ctx context.Context, r byteRange) (body io.ReadCloser, whole bool, err error) {
	if f.t.dir != "" {
		file, err := os.Open(filepath.Join(f.t.dir, "blobs", r.pack.Digest.Algorithm().String(), r.pack.Digest.Encoded()))
		if err != nil {
			return nil, false, fmt.Errorf("%s: pack %s: %w", f.t.Describe(), r.pack.Digest, err)
		}
		return sectionReadCloser{io.NewSectionReader(file, r.start, r.end-r.start), file}, false, nil
	}

	scheme := "https"
	if f.t.repo.PlainHTTP {
		scheme = "http"
	}
	url := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", scheme, f.t.Ref.Registry, f.t.Ref.Repository, r.pack.Digest)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", r.start, r.end-1))
	resp, err := f.t.repo.Client.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("%s: pack %s: %w", f.t.Describe(), r.pack.Digest, err)
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		var first, last, total int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &total); err != nil || first != r.start || last != r.end-1 {
			resp.Body.Close()
			return nil, false, fmt.Errorf("%s: pack %s: unexpected Content-Range %q for bytes %d-%d", f.t.Describe(), r.pack.Digest, resp.Header.Get("Content-Range"), r.start, r.end-1)
		}
		return resp.Body, false, nil
	case http.StatusOK:
		return resp.Body, true, nil
	default:
		resp.Body.Close()
		return nil, false, fmt.Errorf("%s: pack %s: unexpected status %s", f.t.Describe(), r.pack.Digest, resp.Status)
	}
}

type countingReader struct {
	r     io.Reader
	count func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.count(int64(n))
	return n, err
}

// firstUse returns the earliest splice position of a range's leaves.
func firstUse(r byteRange, position map[split.Digest]int) int {
	first := len(position)
	for _, e := range r.entries {
		first = min(first, position[e.Digest])
	}
	return first
}

// pendingLeaves tracks which leaves are still being downloaded, so the
// splice can wait for each. One condition variable serves all of them,
// because a large artifact has hundreds of thousands of leaves.
type pendingLeaves struct {
	mu      sync.Mutex
	cond    *sync.Cond
	waiting map[split.Digest]struct{}
	err     error
}

func newPendingLeaves(missing map[split.Digest]bool) *pendingLeaves {
	p := &pendingLeaves{waiting: make(map[split.Digest]struct{}, len(missing))}
	p.cond = sync.NewCond(&p.mu)
	for d := range missing {
		p.waiting[d] = struct{}{}
	}
	return p
}

// wait blocks until d is in the cache, or returns the error that stopped
// the downloads.
func (p *pendingLeaves) wait(ctx context.Context, d split.Digest) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if _, ok := p.waiting[d]; !ok {
			return nil
		}
		if p.err != nil {
			return p.err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		p.cond.Wait()
	}
}

// done records that d entered the cache.
func (p *pendingLeaves) done(d split.Digest) {
	if p == nil {
		return
	}
	p.mu.Lock()
	delete(p.waiting, d)
	p.mu.Unlock()
	p.cond.Broadcast()
}

// fail wakes every waiter with err.
func (p *pendingLeaves) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.cond.Broadcast()
}

// openArtifact resolves t's reference and reads the manifest, always from
// the target because a tag can move. It then reads the config and pack
// indexes, and loads and verifies the nodes on the way to selectPath and
// every node below it, taking blobs from c where it has them. pinned, when
// set, is the root digest the artifact must have. It returns the root and
// the selected node.
func openArtifact(ctx context.Context, t *Target, c *cache.Cache, pinned string, retry transfer.RetryPolicy, selectPath string) (*fetcher, *split.Stored, *split.Node, *split.Node, error) {
	desc, err := t.Resolve(ctx, t.Ref.Reference())
	if err != nil {
		return nil, nil, nil, nil, explain(t, "resolve", err)
	}
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		return nil, nil, nil, nil, fmt.Errorf("%s: %s is a %s, not an image manifest", t.Ref, desc.Digest, desc.MediaType)
	}
	f := &fetcher{t: t, cache: c, retry: retry}
	st, err := split.OpenArtifact(ctx, &manifestCounter{fetcher: f}, desc)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%s: %w", t.Ref, err)
	}
	f.st = st
	if pinned != "" && pinned != st.Root.String() {
		return nil, nil, nil, nil, pinError(t, st, desc, pinned)
	}

	// Every node will be read unless a path is selected, so fetch them into
	// the cache in parallel rather than one round trip per level of the tree.
	if selectPath == "" || selectPath == "/" {
		if err := f.prefetchNodes(ctx); err != nil {
			return nil, nil, nil, nil, explain(t, "fetch nodes", err)
		}
	}

	root, selected, err := split.LoadPath(ctx, f, st.Root, selectPath)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%s: %w", t.Ref, err)
	}
	return f, st, root, selected, nil
}

// Inspection is a remote artifact's tree, read without any leaf.
type Inspection struct {
	Stored *split.Stored
	Root   *split.Node
	// FullBytes and StripDebugBytes are what a fetch, and a fetch with
	// --strip-debug, would download given the current cache.
	FullBytes       int64
	StripDebugBytes int64
	BytesDownloaded int64
}

// Inspect reads the manifest, config, pack indexes and nodes of t's
// reference through the cache, but no leaf, and estimates what fetches
// would download.
func Inspect(ctx context.Context, t *Target, c *cache.Cache) (*Inspection, error) {
	f, st, root, _, err := openArtifact(ctx, t, c, "", transfer.RetryPolicy{}, "")
	if err != nil {
		return nil, err
	}
	in := &Inspection{Stored: st, Root: root}
	for _, filter := range []split.Filter{{}, {StripDebug: true}} {
		sel := split.Select(root, filter)
		missing := map[split.Digest]bool{}
		for _, leaf := range sel.Leaves {
			if !c.HasLeaf(leaf.Digest) {
				missing[leaf.Digest] = true
			}
		}
		ranges, err := planRanges(st, missing, sel.Leaves)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Ref, err)
		}
		var total int64
		for _, r := range ranges {
			total += r.end - r.start
		}
		if filter.StripDebug {
			in.StripDebugBytes = total
		} else {
			in.FullBytes = total
		}
	}
	in.BytesDownloaded = f.downloaded.Load()
	return in, nil
}

// fetchAll reads a whole blob from the target, verified against its
// descriptor, and tries again when the body breaks off midway, which the
// retrying transport cannot see.
func (f *fetcher) fetchAll(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	var data []byte
	err := transfer.Retry(ctx, f.retry, transfer.IsTransient, func(ctx context.Context) error {
		var err error
		data, err = content.FetchAll(ctx, f.t, desc)
		return err
	})
	return data, err
}

// sectionReadCloser reads a range of a file and closes the file.
type sectionReadCloser struct {
	*io.SectionReader
	file *os.File
}

func (s sectionReadCloser) Close() error { return s.file.Close() }

// allCached reports whether every entry is already in the cache.
func (f *fetcher) allCached(entries []split.PackEntry) bool {
	for _, e := range entries {
		if !f.cache.HasLeaf(e.Digest) {
			return false
		}
	}
	for _, e := range entries {
		f.pending.done(e.Digest)
	}
	return true
}

// pinError explains a root digest that differs from --digest, and names
// the digest the user gave when it is the file's or the manifest's.
func pinError(t *Target, st *split.Stored, manifest ocispec.Descriptor, pinned string) error {
	hint := ""
	switch pinned {
	case st.FileDigest.String():
		hint = ". That is the whole-file SHA-256, and --digest takes the root digest that publish and inspect print"
	case manifest.Digest.String():
		hint = ". That is the manifest digest, and --digest takes the root digest that publish and inspect print"
	}
	return fmt.Errorf("%s: root digest is %s, but --digest pins %s%s", t.Ref, st.Root, pinned, hint)
}

// prefetchNodes fetches every node blob of the artifact into the cache.
func (f *fetcher) prefetchNodes(ctx context.Context) error {
	nodes := slices.Collect(maps.Values(f.st.Nodes))
	return transfer.Run(ctx, nodeConcurrency, nodes, func(ctx context.Context, desc ocispec.Descriptor) error {
		if desc.Size > split.MaxNodeSize {
			return fmt.Errorf("node %s of %d bytes exceeds the limit", desc.Digest, desc.Size)
		}
		_, err := content.FetchAll(ctx, f, desc)
		return err
	})
}
