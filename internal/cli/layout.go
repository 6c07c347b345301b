package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/oci"

	"github.com/wasmcas/wasmcas/internal/split"
)

// defaultTag is the tag split gives an artifact when --tag is not set.
const defaultTag = "latest"

// isLayout reports whether path is a directory with an oci-layout file.
func isLayout(path string) bool {
	st, err := os.Stat(filepath.Join(path, ocispec.ImageLayoutFile))
	return err == nil && st.Mode().IsRegular()
}

// openLayout opens the OCI image layout dir and reads the artifact tagged
// tag. With an empty tag, the layout must hold exactly one artifact.
func openLayout(ctx context.Context, dir, tag string) (*oci.Store, *split.Stored, error) {
	if !isLayout(dir) {
		return nil, nil, fmt.Errorf("%s: not an OCI image layout (no %s file)", dir, ocispec.ImageLayoutFile)
	}
	store, err := oci.NewWithContext(ctx, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("open layout %s: %w", dir, err)
	}
	if tag == "" {
		tag, err = onlyTag(dir)
		if err != nil {
			return nil, nil, err
		}
	}
	desc, err := store.Resolve(ctx, tag)
	if err != nil {
		return nil, nil, fmt.Errorf("layout %s: resolve %s: %w", dir, tag, err)
	}
	st, err := split.OpenArtifact(ctx, store, desc)
	if err != nil {
		return nil, nil, fmt.Errorf("layout %s: %w", dir, err)
	}
	return store, st, nil
}

// onlyTag returns the reference of the only manifest in the layout's
// index.json, or the manifest digest when it has no tag.
func onlyTag(dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))
	if err != nil {
		return "", fmt.Errorf("layout %s: %w", dir, err)
	}
	var index ocispec.Index
	if err := json.Unmarshal(raw, &index); err != nil {
		return "", fmt.Errorf("layout %s: invalid %s: %w", dir, ocispec.ImageIndexFile, err)
	}
	var refs []string
	digests := map[string]bool{}
	for _, m := range index.Manifests {
		digests[m.Digest.String()] = true
		if name := m.Annotations[ocispec.AnnotationRefName]; name != "" {
			refs = append(refs, name)
		}
	}
	switch {
	case len(digests) == 0:
		return "", fmt.Errorf("layout %s contains no artifact", dir)
	case len(digests) > 1:
		slices.Sort(refs)
		return "", fmt.Errorf("layout %s contains %d artifacts: choose one with --tag (tags: %s)", dir, len(digests), strings.Join(refs, ", "))
	case len(refs) > 0:
		return refs[0], nil
	}
	return index.Manifests[0].Digest.String(), nil
}

// loadLayoutTree opens an artifact of a layout and loads its verified tree.
func loadLayoutTree(ctx context.Context, dir, tag string) (*split.Stored, *split.TargetSource, *split.Node, error) {
	store, st, err := openLayout(ctx, dir, tag)
	if err != nil {
		return nil, nil, nil, err
	}
	src := &split.TargetSource{Fetcher: store, Stored: st}
	root, err := split.LoadTree(ctx, src, st.Root)
	if err != nil {
		src.Close()
		return nil, nil, nil, fmt.Errorf("layout %s: %w", dir, err)
	}
	return st, src, root, nil
}

// writeJSON writes v as one indented JSON object.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
