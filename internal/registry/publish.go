package registry

import (
	"context"
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmcas/wasmcas/internal/split"
	"github.com/wasmcas/wasmcas/internal/witinfo"
)

// PublishOptions tune Publish.
type PublishOptions struct {
	Concurrency int
	// WIT records the component's imports and exports in the config. A core
	// module has none: it is an error when WITRequired is set (the user asked
	// on the command line) and skipped otherwise (the config file asked).
	WIT         bool
	WITRequired bool
	// Progress is called after each blob, from several goroutines.
	Progress func(desc ocispec.Descriptor, uploaded bool)
	// Planned is called once the plan is known, with its blob count and
	// total bytes, so a caller can size a progress bar.
	Planned func(blobs int, bytes int64)
}

// PublishResult is the summary of a publish.
type PublishResult struct {
	Reference      string `json:"reference"`
	Digest         string `json:"digest"`
	ManifestDigest string `json:"manifest_digest"`
	Size           int64  `json:"size"`
	Blobs          int    `json:"blobs"`
	BlobsUploaded  int    `json:"blobs_uploaded"`
	Bytes          int64  `json:"bytes"`
	BytesUploaded  int64  `json:"bytes_uploaded"`
}

// Publish splits the binary at path and pushes it to t under the
// reference's tag, uploading only the blobs t lacks and the manifest last.
func Publish(ctx context.Context, path string, t *Target, opts PublishOptions) (*PublishResult, error) {
	if t.Ref.Tag == "" {
		return nil, fmt.Errorf("%s: publish needs a tag, not a digest", t.Ref)
	}
	file, err := split.OpenFile(ctx, path)
	if err != nil {
		return nil, err
	}
	defer file.Close()

	var wit json.RawMessage
	if opts.WIT {
		if wit, err = witinfo.ForBinary(path, file.Root.Kind, opts.WITRequired); err != nil {
			return nil, err
		}
	}

	existing, err := split.LoadExisting(ctx, t, t.Ref.Tag)
	if err != nil && !isNotFound(err) {
		return nil, explain(t, "read existing artifacts", err)
	}
	if existing == nil {
		existing = split.NewExisting()
	}
	plan, err := split.NewPlan(file.Root, file, file.FileDigest, existing, wit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if opts.Planned != nil {
		opts.Planned(len(plan.Blobs), plan.Bytes())
	}
	stats, err := plan.Push(ctx, t, file, t.Ref.Tag, split.PushOptions{Concurrency: opts.Concurrency, Progress: opts.Progress, Retry: t.retry})
	if err != nil {
		return nil, fmt.Errorf("publish %s to %s: %w", path, t.Ref, err)
	}
	return &PublishResult{
		Reference:      t.Ref.String(),
		Digest:         file.Root.Digest.String(),
		ManifestDigest: plan.Descriptor.Digest.String(),
		Size:           file.Size,
		Blobs:          stats.Blobs,
		BlobsUploaded:  stats.BlobsUploaded,
		Bytes:          stats.Bytes,
		BytesUploaded:  stats.BytesUploaded,
	}, nil
}
