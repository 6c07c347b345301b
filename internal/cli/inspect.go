package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmcas/wasmcas/internal/registry"
	"github.com/wasmcas/wasmcas/internal/split"
	"github.com/wasmcas/wasmcas/internal/wasmbin"
	"github.com/wasmcas/wasmcas/internal/witinfo"
)

type inspectOptions struct {
	remoteFlags
	cacheDir string
	path     string
	tag      string
	json     bool
	wit      bool
}

type inspectResult struct {
	Digest     string         `json:"digest"`
	Kind       string         `json:"kind"`
	Size       int64          `json:"size"`
	FileDigest string         `json:"file_digest,omitempty"`
	Nodes      int            `json:"nodes"`
	Leaves     int            `json:"leaves"`
	LeafBytes  int64          `json:"leaf_bytes"`
	WIT        *witinfo.World `json:"wit,omitempty"`
	Tree       *inspectNode   `json:"tree"`

	// Set for a reference: what a fetch and a fetch with --strip-debug
	// would download given the cache, and what inspect itself downloaded.
	Reference       string `json:"reference,omitempty"`
	ManifestDigest  string `json:"manifest_digest,omitempty"`
	FetchBytes      *int64 `json:"fetch_bytes,omitempty"`
	StripDebugBytes *int64 `json:"strip_debug_fetch_bytes,omitempty"`
	BytesDownloaded *int64 `json:"bytes_downloaded,omitempty"`
}

type inspectNode struct {
	Path     string           `json:"path"`
	Kind     string           `json:"kind"`
	Offset   int64            `json:"offset"`
	Size     int64            `json:"size"`
	Digest   string           `json:"digest"`
	Sections []inspectSection `json:"sections"`
}

type inspectSection struct {
	Offset      int64        `json:"offset"`
	ID          byte         `json:"id"`
	Section     string       `json:"section"`
	Name        string       `json:"name,omitempty"`
	Form        string       `json:"form"`
	Size        int64        `json:"size"`
	Leaves      []string     `json:"leaves,omitempty"`
	LeafBytes   int64        `json:"leaf_bytes"`
	InlineBytes int64        `json:"inline_bytes"`
	Child       *inspectNode `json:"child,omitempty"`
}

func newInspectCommand(streams Streams) *cobra.Command {
	opts := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect FILE|DIR|REF",
		Short: "Print the split tree of a binary, layout or published artifact",
		Long: `Print the split tree of a WebAssembly binary, of the artifact in an OCI image
layout, or of a published reference: every core module and component with its
path, kind, size and digest, and every section with its offset, name, form,
size, and how many of its bytes are leaves. With --wit, also decode the
component's WIT world (imports and exports), which takes hundreds of
milliseconds.

For a reference, only the manifest, config, pack indexes and nodes are
downloaded, never a leaf. inspect then also prints how many bytes a fetch,
and a fetch with --strip-debug, would download given the local cache, and
the imports and exports if the publisher recorded them (publish --wit).`,
		Args: exactArgs("FILE|DIR|REF"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.path = args[0]
			res, err := runInspect(cmd, opts)
			if err != nil {
				return err
			}
			if opts.json {
				return writeJSON(streams.Out, res)
			}
			return printInspect(streams.Out, res)
		},
	}
	cmd.Flags().StringVar(&opts.tag, "tag", "", "tag of the artifact in a layout that holds several")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the tree as one JSON object")
	cmd.Flags().StringVar(&opts.cacheDir, "cache-dir", "", "local cache for a reference (default $XDG_CACHE_HOME/wasmcas)")
	opts.remoteFlags.register(cmd)
	cmd.Flags().BoolVar(&opts.wit, "wit", false, "decode the component's WIT imports and exports (slow)")
	return cmd
}

func runInspect(cmd *cobra.Command, opts *inspectOptions) (*inspectResult, error) {
	ctx := cmd.Context()
	var root *split.Node
	res := &inspectResult{}
	_, statErr := os.Stat(opts.path)
	if statErr != nil && !strings.HasSuffix(opts.path, ".wasm") {
		return inspectReference(cmd, opts)
	}
	if isLayout(opts.path) {
		st, src, tree, err := loadLayoutTree(ctx, opts.path, opts.tag)
		if err != nil {
			return nil, err
		}
		src.Close()
		root = tree
		res.FileDigest = st.FileDigest.String()
		if opts.wit && len(st.Config.WIT) > 0 {
			res.WIT = &witinfo.World{}
			if err := json.Unmarshal(st.Config.WIT, res.WIT); err != nil {
				return nil, fmt.Errorf("layout %s: config %s: invalid wit: %w", opts.path, st.Manifest.Config.Digest, err)
			}
		} else if opts.wit && tree.Kind == wasmbin.KindComponent {
			if res.WIT, err = layoutWIT(cmd, opts); err != nil {
				return nil, err
			}
		} else if opts.wit && cmd.Flags().Changed("wit") {
			return nil, fmt.Errorf("%s: --wit needs a component, and this is a core module", opts.path)
		}
	} else {
		if st, err := os.Stat(opts.path); err == nil && st.IsDir() {
			return nil, fmt.Errorf("%s is a directory but not an OCI image layout (it has no oci-layout file)", opts.path)
		}
		file, err := split.OpenFile(ctx, opts.path)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		root = file.Root
		res.FileDigest = file.FileDigest.String()
		if opts.wit {
			raw, err := witinfo.ForBinary(opts.path, root.Kind, cmd.Flags().Changed("wit"))
			if err != nil {
				return nil, err
			}
			if raw != nil {
				res.WIT = &witinfo.World{}
				if err := json.Unmarshal(raw, res.WIT); err != nil {
					return nil, err
				}
			}
		}
	}

	res.Digest = root.Digest.String()
	res.Kind = root.Kind.String()
	res.Size = root.Size
	seen := map[split.Digest]bool{}
	res.Tree = describeNode("/", root, 0, res, seen)
	return res, nil
}

// layoutWIT splices a layout's artifact into a temporary file and decodes
// its WIT world there, for artifacts that did not record it.
func layoutWIT(cmd *cobra.Command, opts *inspectOptions) (*witinfo.World, error) {
	tmp, err := os.MkdirTemp("", "wasmcas-wit-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := tmp + "/component.wasm"
	if err := runSplice(cmd, &spliceOptions{dir: opts.path, tag: opts.tag, output: out}); err != nil {
		return nil, err
	}
	return witinfo.Load(out)
}

func describeNode(path string, n *split.Node, offset int64, res *inspectResult, seen map[split.Digest]bool) *inspectNode {
	res.Nodes++
	out := &inspectNode{Path: path, Kind: n.Kind.String(), Offset: offset, Size: n.Size, Digest: n.Digest.String(), Sections: []inspectSection{}}
	pos := offset + wasmbin.PreambleSize
	child := 0
	for _, s := range n.Sections {
		sec := inspectSection{Offset: pos, ID: s.ID, Section: sectionName(n.Kind, s.ID), Name: s.Name, Form: s.Form.String(), Size: s.Size}
		sec.InlineBytes = int64(len(s.NamePrefix))
		for _, p := range s.Pieces {
			if p.Leaf == nil {
				sec.InlineBytes += int64(len(p.Inline))
				continue
			}
			sec.Leaves = append(sec.Leaves, p.Leaf.Digest.String())
			sec.LeafBytes += p.Leaf.Size
			if !seen[p.Leaf.Digest] {
				seen[p.Leaf.Digest] = true
				res.Leaves++
				res.LeafBytes += p.Leaf.Size
			}
		}
		if s.Child != nil {
			childPath := fmt.Sprintf("%s/%d", strings.TrimSuffix(path, "/"), child)
			child++
			sec.Child = describeNode(childPath, s.Child, pos+int64(len(s.Header)), res, seen)
		}
		out.Sections = append(out.Sections, sec)
		pos += int64(len(s.Header)) + s.Size
	}
	return out
}

func printInspect(w io.Writer, res *inspectResult) error {
	var b strings.Builder
	if res.Reference != "" {
		fmt.Fprintf(&b, "%s, manifest %s\n", res.Reference, res.ManifestDigest)
	}
	fmt.Fprintf(&b, "%s %s, %d bytes, %s, %s (%d bytes)\n", res.Kind, res.Digest, res.Size,
		plural(res.Nodes, "node", "nodes"), plural(res.Leaves, "distinct leaf", "distinct leaves"), res.LeafBytes)
	if res.FetchBytes != nil {
		fmt.Fprintf(&b, "a fetch would download %d bytes, or %d with --strip-debug, given the cache (inspect downloaded %d)\n",
			*res.FetchBytes, *res.StripDebugBytes, *res.BytesDownloaded)
	}
	if res.FileDigest != "" {
		fmt.Fprintf(&b, "file %s\n", res.FileDigest)
	}
	printNode(&b, res.Tree, 0)
	if res.WIT != nil {
		fmt.Fprintf(&b, "world %s\n", res.WIT.Name)
		for _, name := range res.WIT.Imports {
			fmt.Fprintf(&b, "  import %s\n", name)
		}
		for _, name := range res.WIT.Exports {
			fmt.Fprintf(&b, "  export %s\n", name)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func printNode(b *strings.Builder, n *inspectNode, depth int) {
	indent := strings.Repeat("  ", depth)
	fmt.Fprintf(b, "%s%s %s at 0x%x, %d bytes, %s\n", indent, n.Path, n.Kind, n.Offset, n.Size, n.Digest)
	for _, s := range n.Sections {
		label := s.Section
		if s.Name != "" || s.ID == wasmbin.SectionCustom {
			label = fmt.Sprintf("%s %q", s.Section, s.Name)
		}
		storage := plural(len(s.Leaves), "leaf", "leaves")
		switch {
		case s.Child != nil:
			storage = "node " + s.Child.Path
		case len(s.Leaves) == 0:
			storage = "inline"
		}
		fmt.Fprintf(b, "%s  0x%08x %-28s %-6s %10d  %s\n", indent, s.Offset, label, s.Form, s.Size, storage)
		if s.Child != nil {
			printNode(b, s.Child, depth+2)
		}
	}
}

var moduleSections = []string{"custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "datacount", "tag"}
var componentSections = []string{"custom", "core module", "core instance", "core type", "component", "instance", "alias", "type", "canon", "start", "import", "export", "value"}

// sectionName returns the name the specifications give a section id.
func sectionName(kind wasmbin.Kind, id byte) string {
	names := moduleSections
	if kind == wasmbin.KindComponent {
		names = componentSections
	}
	if int(id) < len(names) {
		return names[id]
	}
	return fmt.Sprintf("unknown(%d)", id)
}

// inspectReference inspects a published artifact without downloading any
// leaf.
func inspectReference(cmd *cobra.Command, opts *inspectOptions) (*inspectResult, error) {
	if err := opts.validate(cmd); err != nil {
		return nil, err
	}
	ref, err := registry.ParseReference(opts.path)
	if err != nil {
		return nil, fmt.Errorf("%s is neither a file, a layout nor a reference: %w", opts.path, err)
	}
	target, c, err := opts.openReference(cmd, ref, opts.cacheDir)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	in, err := registry.Inspect(cmd.Context(), target, c)
	if err != nil {
		return nil, err
	}

	res := &inspectResult{
		Reference:       ref.String(),
		ManifestDigest:  in.Stored.Descriptor.Digest.String(),
		Digest:          in.Root.Digest.String(),
		Kind:            in.Root.Kind.String(),
		Size:            in.Root.Size,
		FileDigest:      in.Stored.FileDigest.String(),
		FetchBytes:      &in.FullBytes,
		StripDebugBytes: &in.StripDebugBytes,
		BytesDownloaded: &in.BytesDownloaded,
	}
	if len(in.Stored.Config.WIT) > 0 {
		res.WIT = &witinfo.World{}
		if err := json.Unmarshal(in.Stored.Config.WIT, res.WIT); err != nil {
			return nil, fmt.Errorf("%s: config %s: invalid wit: %w", ref, in.Stored.Manifest.Config.Digest, err)
		}
	}
	res.Tree = describeNode("/", in.Root, 0, res, map[split.Digest]bool{})
	return res, nil
}

// plural returns "1 leaf" or "2 leaves".
func plural(n int, singular, pluralForm string) string {
	if n == 1 {
		return "1 " + singular
	}
	return fmt.Sprintf("%d %s", n, pluralForm)
}
