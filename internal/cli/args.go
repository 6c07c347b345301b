package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
)

// exactArgs accepts exactly the positional arguments that names lists, and
// otherwise names the missing or extra ones.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return fmt.Errorf("missing %s: usage: %s", strings.Join(names[len(args):], " and "), cmd.UseLine())
		case len(args) > len(names):
			return fmt.Errorf("unexpected argument %q: usage: %s", args[len(names)], cmd.UseLine())
		}
		return nil
	}
}

// requireOutput checks the -o flag: it must be set, and unless it is "-"
// (stdout, where allowed) its directory must exist and it must not be a
// directory itself, so a bad path fails before any work is done.
func requireOutput(output string, stdoutAllowed bool) error {
	if output == "" {
		return errors.New("missing -o/--output: the file to write")
	}
	if output == "-" {
		if !stdoutAllowed {
			return errors.New("invalid -o -: this command writes a directory, not stdout")
		}
		return nil
	}
	if st, err := os.Stat(output); err == nil && st.IsDir() {
		return fmt.Errorf("output %s is a directory; name a file", output)
	}
	dir := filepath.Dir(output)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("output %s: directory %s does not exist", output, dir)
	case err != nil:
		return fmt.Errorf("output %s: %w", output, err)
	case !st.IsDir():
		return fmt.Errorf("output %s: %s is not a directory", output, dir)
	}
	return nil
}

// tagPattern is the grammar of a tag in the OCI distribution spec.
var tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// validateTag checks a tag given with --tag.
func validateTag(tag string) error {
	if !tagPattern.MatchString(tag) {
		return fmt.Errorf("invalid --tag %q: a tag is 1 to 128 letters, digits, _, . and -, and does not start with . or -", tag)
	}
	return nil
}
