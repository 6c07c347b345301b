package split

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"oras.land/oras-go/v2/content/oci"

	"github.com/wasmcas/wasmcas/internal/testutil"
)

// writeLayout splits file into an OCI image layout at dir under tag.
func writeLayout(t *testing.T, file *File, dir, tag string) (*Plan, PushStats) {
	t.Helper()
	ctx := context.Background()
	store, err := oci.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := LoadExisting(ctx, store, tag)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan(file.Root, file, file.FileDigest, ex, nil)
	if err != nil {
		t.Fatalf("%s: plan: %v", file.Path, err)
	}
	stats, err := plan.Push(ctx, store, file, tag, PushOptions{Concurrency: 4})
	if err != nil {
		t.Fatalf("%s: push: %v", file.Path, err)
	}
	return plan, stats
}

// spliceLayout reads the artifact tagged tag in dir and splices it.
func spliceLayout(t *testing.T, dir, tag string) ([]byte, *Stored) {
	t.Helper()
	ctx := context.Background()
	store, err := oci.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := store.Resolve(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	st, err := OpenArtifact(ctx, store, desc)
	if err != nil {
		t.Fatal(err)
	}
	src := &TargetSource{Fetcher: store, Stored: st}
	defer src.Close()
	root, err := LoadTree(ctx, src, st.Root)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := Splice(ctx, &out, src, root); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), st
}

func TestSplitSpliceCorpus(t *testing.T) {
	ctx := context.Background()
	for _, path := range testutil.CorpusFiles(t) {
		name, _ := filepath.Rel(testutil.Corpus(t), path)
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			file, err := OpenFile(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			again, err := OpenFile(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			if file.Root.Digest != again.Root.Digest {
				t.Fatalf("two builds gave %s and %s", file.Root.Digest, again.Root.Digest)
			}
			if file.FileDigest != Sum(want) {
				t.Fatalf("file digest %s, want %s", file.FileDigest, Sum(want))
			}

			var direct bytes.Buffer
			if _, err := Splice(ctx, &direct, NewBinarySource(file, file.Root), file.Root); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(direct.Bytes(), want) {
				t.Fatal("splice from the binary differs from the file")
			}

			dir := t.TempDir()
			plan, _ := writeLayout(t, file, dir, "latest")
			if len(plan.Blobs) > MaxBlobs {
				t.Errorf("%d blobs, limit %d", len(plan.Blobs), MaxBlobs)
			}
			if len(plan.Manifest) > MaxManifestSize {
				t.Errorf("manifest of %d bytes, limit %d", len(plan.Manifest), MaxManifestSize)
			}
			got, st := spliceLayout(t, dir, "latest")
			if !bytes.Equal(got, want) {
				t.Fatal("splice from the layout differs from the file")
			}
			if st.Root != file.Root.Digest {
				t.Fatalf("layout root %s, file root %s", st.Root, file.Root.Digest)
			}
		})
	}
}

func TestSecondVersionReusesPacks(t *testing.T) {
	ctx := context.Background()
	corpus := testutil.Corpus(t)
	dir := t.TempDir()
	v1, err := OpenFile(ctx, filepath.Join(corpus, "pairs", "js-hello-v1.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	defer v1.Close()
	v2, err := OpenFile(ctx, filepath.Join(corpus, "pairs", "js-hello-v2.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()

	writeLayout(t, v1, dir, "v1")
	_, stats := writeLayout(t, v2, dir, "v2")
	if stats.BytesUploaded > 1_100_000 {
		t.Errorf("second version wrote %d bytes, want at most 1,100,000", stats.BytesUploaded)
	}
	_, again := writeLayout(t, v2, dir, "v2")
	if again.BlobsUploaded != 0 {
		t.Errorf("repeated split wrote %d blobs, want 0", again.BlobsUploaded)
	}

	for tag, file := range map[string]*File{"v1": v1, "v2": v2} {
		want, _ := os.ReadFile(file.Path)
		got, _ := spliceLayout(t, dir, tag)
		if !bytes.Equal(got, want) {
			t.Errorf("splice of %s differs from %s", tag, file.Path)
		}
	}
}

// writeModule writes a core module holding one custom section named "x"
// with the given payload and returns its path.
func writeModule(t *testing.T, payload []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "module.wasm")
	if err := os.WriteFile(path, testutil.Module(testutil.CustomSection("x", payload)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRepackedLeavesKeepOldPackReferences(t *testing.T) {
	ctx := context.Background()
	random := rand.New(rand.NewPCG(1, 2))
	payloadA := make([]byte, 1<<20)
	for i := range payloadA {
		payloadA[i] = byte(random.Uint32())
	}
	// B shares only A's first 64 KiB, so splitting B copies those leaves
	// into a new pack instead of referencing A's mostly unneeded one.
	payloadB := append([]byte{}, payloadA[:64<<10]...)
	for len(payloadB) < 1<<20 {
		payloadB = append(payloadB, byte(random.Uint32()))
	}

	fileA, err := OpenFile(ctx, writeModule(t, payloadA))
	if err != nil {
		t.Fatal(err)
	}
	defer fileA.Close()
	fileB, err := OpenFile(ctx, writeModule(t, payloadB))
	if err != nil {
		t.Fatal(err)
	}
	defer fileB.Close()

	dir := t.TempDir()
	writeLayout(t, fileA, dir, "a")
	planB, _ := writeLayout(t, fileB, dir, "b")
	if planB.RepackedLeaves == 0 {
		t.Fatal("splitting B repacked no leaf; the test no longer covers repacking")
	}
	writeLayout(t, fileA, dir, "c")

	want, _ := os.ReadFile(fileA.Path)
	got, _ := spliceLayout(t, dir, "c")
	if !bytes.Equal(got, want) {
		t.Error("splice of c differs from A")
	}
}

func TestSameFileSameManifestUnderAnotherTag(t *testing.T) {
	ctx := context.Background()
	corpus := testutil.Corpus(t)
	dir := t.TempDir()
	v1, err := OpenFile(ctx, filepath.Join(corpus, "pairs", "go-hello-v1.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	defer v1.Close()
	v2, err := OpenFile(ctx, filepath.Join(corpus, "pairs", "go-hello-v2.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()

	writeLayout(t, v1, dir, "1.0.0")
	first, _ := writeLayout(t, v2, dir, "2.0.0")
	second, stats := writeLayout(t, v2, dir, "2.0.1")
	if first.Descriptor.Digest != second.Descriptor.Digest {
		t.Errorf("manifest %s under 2.0.0 and %s under 2.0.1", first.Descriptor.Digest, second.Descriptor.Digest)
	}
	if stats.BlobsUploaded != 0 {
		t.Errorf("the second tag wrote %d blobs", stats.BlobsUploaded)
	}
}
