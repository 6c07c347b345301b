package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/wasmcas/wasmcas/internal/cache"
	"github.com/wasmcas/wasmcas/internal/registry"
)

// remoteFlags are the options shared by commands that reach a target.
type remoteFlags struct {
	storeDir    string
	plainHTTP   bool
	concurrency int
	progress    string
}

func (f *remoteFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.storeDir, "store-dir", "", "embedded store for references without a registry host (default $XDG_DATA_HOME/wasmcas/store)")
	cmd.Flags().BoolVar(&f.plainHTTP, "plain-http", false, "use plain HTTP for a registry that is not on loopback")
	cmd.Flags().IntVar(&f.concurrency, "concurrency", 8, "maximum number of parallel requests, 1 to 256")
	cmd.Flags().StringVar(&f.progress, "progress", "auto", "progress bars on stderr: auto (when stderr is a terminal), always or never")
	_ = cmd.RegisterFlagCompletionFunc("progress", cobra.FixedCompletions([]string{"auto", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))
}

func (f *remoteFlags) validate(cmd *cobra.Command) error {
	if f.concurrency < 1 || f.concurrency > 256 {
		return fmt.Errorf("invalid %s: %d is not between 1 and 256", flagSource(cmd, "concurrency"), f.concurrency)
	}
	switch f.progress {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("invalid %s: %q is not auto, always or never", flagSource(cmd, "progress"), f.progress)
	}
	return nil
}

func (f *remoteFlags) options() (registry.Options, error) {
	storeDir := f.storeDir
	if storeDir == "" {
		dir, err := dataDir()
		if err != nil {
			return registry.Options{}, err
		}
		storeDir = filepath.Join(dir, "store")
	}
	return registry.Options{StoreDir: storeDir, PlainHTTP: f.plainHTTP}, nil
}

// dataDir returns $XDG_DATA_HOME/wasmcas, or ~/.local/share/wasmcas.
func dataDir() (string, error) {
	if dir := os.Getenv("XDG_DATA_HOME"); dir != "" {
		return filepath.Join(dir, "wasmcas"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no data directory: set --store-dir or WASMCAS_STORE_DIR: %w", err)
	}
	return filepath.Join(home, ".local", "share", "wasmcas"), nil
}

// showProgress decides whether to draw bars: never with --json, and by
// default only when stderr is a terminal.
func showProgress(mode string, jsonOutput bool, errOut io.Writer) bool {
	switch {
	case jsonOutput || mode == "never":
		return false
	case mode == "always":
		return true
	}
	return IsTerminal(errOut)
}

// newBar returns a byte progress bar on w.
func newBar(w io.Writer, total int64, description string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)
}

// openReference opens the cache at cacheDir (or the default one) and the
// existing target that ref names, for commands that read from it.
func (f *remoteFlags) openReference(cmd *cobra.Command, ref registry.Reference, cacheDir string) (*registry.Target, *cache.Cache, error) {
	targetOpts, err := f.options()
	if err != nil {
		return nil, nil, err
	}
	target, err := registry.Open(cmd.Context(), ref, targetOpts, false)
	if err != nil {
		return nil, nil, err
	}
	c, err := openCache(cacheDir)
	if err != nil {
		return nil, nil, err
	}
	return target, c, nil
}
