package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wasmcas/wasmcas/internal/split"
)

type diffOptions struct {
	old, new string
	json     bool
}

type diffResult struct {
	Old            string `json:"old"`
	New            string `json:"new"`
	OldDigest      string `json:"old_digest"`
	NewDigest      string `json:"new_digest"`
	OldSize        int64  `json:"old_size"`
	NewSize        int64  `json:"new_size"`
	NewBytes       int64  `json:"new_bytes"`
	SharedBytes    int64  `json:"shared_bytes"`
	Blobs          int    `json:"blobs"`
	NewBlobs       int    `json:"new_blobs"`
	Leaves         int    `json:"leaves"`
	NewLeaves      int    `json:"new_leaves"`
	RepackedLeaves int    `json:"repacked_leaves"`
}

func newDiffCommand(streams Streams) *cobra.Command {
	opts := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "Report what a publish of NEW uploads where OLD is already stored",
		Long: `Report what a publish of the binary NEW would upload to a registry repository
that already holds the binary OLD. new_bytes counts every blob that would be
sent (new packs and their indexes, nodes, and the config); only the OCI
manifest is left out. shared_bytes counts the bytes of NEW's leaves that OLD
already stores.`,
		Args: exactArgs("OLD", "NEW"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.old, opts.new = args[0], args[1]
			res, err := runDiff(cmd, opts)
			if err != nil {
				return err
			}
			if opts.json {
				return writeJSON(streams.Out, res)
			}
			_, err = fmt.Fprintf(streams.Out,
				"old %s: %d bytes, %s\nnew %s: %d bytes, %s\nnew bytes: %d in %d of %d blobs (%.1f%% of the new file)\nshared bytes: %d in %d of %d leaves\n",
				res.Old, res.OldSize, res.OldDigest, res.New, res.NewSize, res.NewDigest,
				res.NewBytes, res.NewBlobs, res.Blobs, 100*float64(res.NewBytes)/float64(max(res.NewSize, 1)),
				res.SharedBytes, res.Leaves-res.NewLeaves, res.Leaves)
			return err
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the result as one JSON object")
	return cmd
}

func runDiff(cmd *cobra.Command, opts *diffOptions) (*diffResult, error) {
	ctx := cmd.Context()
	for _, path := range []string{opts.old, opts.new} {
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			return nil, fmt.Errorf("%s is a directory: diff compares two binaries (.wasm files)", path)
		}
	}
	oldFile, err := split.OpenFile(ctx, opts.old)
	if err != nil {
		return nil, err
	}
	defer oldFile.Close()
	newFile, err := split.OpenFile(ctx, opts.new)
	if err != nil {
		return nil, err
	}
	defer newFile.Close()

	oldPlan, err := split.NewPlan(oldFile.Root, oldFile, oldFile.FileDigest, split.NewExisting(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.old, err)
	}
	existing, err := oldPlan.Existing()
	if err != nil {
		return nil, err
	}
	newPlan, err := split.NewPlan(newFile.Root, newFile, newFile.FileDigest, existing, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.new, err)
	}

	stored := map[string]bool{}
	for _, b := range oldPlan.Blobs {
		stored[b.Descriptor.Digest.String()] = true
	}
	res := &diffResult{
		Old: opts.old, New: opts.new,
		OldDigest: oldFile.Root.Digest.String(), NewDigest: newFile.Root.Digest.String(),
		OldSize: oldFile.Size, NewSize: newFile.Size,
		Blobs: len(newPlan.Blobs), Leaves: newPlan.Leaves, RepackedLeaves: newPlan.RepackedLeaves,
	}
	for _, b := range newPlan.Blobs {
		if !stored[b.Descriptor.Digest.String()] {
			res.NewBlobs++
			res.NewBytes += b.Descriptor.Size
		}
	}
	seen := map[split.Digest]bool{}
	err = split.Walk(newFile.Root, func(_ string, n *split.Node) error {
		for _, s := range n.Sections {
			for _, p := range s.Pieces {
				if p.Leaf == nil || seen[p.Leaf.Digest] {
					continue
				}
				seen[p.Leaf.Digest] = true
				if _, ok := existing.Leaves[p.Leaf.Digest]; ok {
					res.SharedBytes += p.Leaf.Size
				} else {
					res.NewLeaves++
				}
			}
		}
		return nil
	})
	return res, err
}
