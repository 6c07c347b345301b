package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/wasmcas/wasmcas/internal/split"
)

// partialFlags choose part of a binary: sections to leave out and a nested
// module or component to write alone.
type partialFlags struct {
	stripDebug bool
	skip       []string
	keep       []string
	selectPath string
}

func (f *partialFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.stripDebug, "strip-debug", false, "leave out DWARF (.debug_*), sourceMappingURL and external_debug_info custom sections")
	cmd.Flags().StringArrayVar(&f.skip, "skip-custom", nil, "leave out custom sections whose name matches this glob (repeatable)")
	cmd.Flags().StringArrayVar(&f.keep, "keep-custom", nil, "keep custom sections whose name matches this glob, overriding --strip-debug and --skip-custom (repeatable)")
	cmd.Flags().StringVar(&f.selectPath, "select", "", "write only the nested module or component at this path, as inspect prints it (for example /0)")
}

func (f *partialFlags) filter() (split.Filter, error) {
	filter := split.Filter{StripDebug: f.stripDebug, Skip: f.skip, Keep: f.keep}
	return filter, filter.Validate()
}

// printPartial states what a partial output is: which nested binary, which
// sections were left out, and that its parts were verified against the
// root digest rather than the whole-file SHA-256.
func printPartial(w io.Writer, selected string, omitted []split.OmittedSection, omittedBytes int64) error {
	if selected != "" {
		if _, err := fmt.Fprintf(w, "wrote only %s\n", selected); err != nil {
			return err
		}
	}
	if len(omitted) > 0 {
		if _, err := fmt.Fprintf(w, "left out %d custom sections (%d bytes):", len(omitted), omittedBytes); err != nil {
			return err
		}
		for _, o := range omitted {
			if _, err := fmt.Fprintf(w, " %s%s", prefixPath(o.Path), o.Name); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, "every part written was verified against the root digest; the whole-file sha256 does not apply")
	return err
}

func prefixPath(p string) string {
	if p == "/" {
		return ""
	}
	return p + ":"
}
