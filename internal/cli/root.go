package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Set at build time with -ldflags "-X github.com/wasmcas/wasmcas/internal/cli.version=...".
var (
	version = "dev"
	commit  = ""
)

// envPrefix is the prefix of the environment variables that set options:
// WASMCAS_CACHE_DIR sets --cache-dir.
const envPrefix = "WASMCAS"

// Main runs the command line with the process's streams and returns the
// exit status.
func Main(ctx context.Context, args []string) int {
	return Run(ctx, args, SystemStreams())
}

// Run runs the command line with the given streams and returns the exit
// status. Errors are printed as one line on streams.ErrOut.
func Run(ctx context.Context, args []string, streams Streams) int {
	cmd := NewRootCommand(streams)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(streams.ErrOut, "wasmcas: %s\n", oneLine(err.Error()))
		var exit *exitError
		if errors.As(err, &exit) {
			return exit.code
		}
		return 1
	}
	return 0
}

// exitError carries an exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// oneLine folds an error message onto one line, because scripts read the
// first line of stderr.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// NewRootCommand builds the wasmcas command tree.
func NewRootCommand(streams Streams) *cobra.Command {
	v := viper.New()
	var configFile string
	root := &cobra.Command{
		Use:   "wasmcas",
		Short: "Publish and fetch WebAssembly components by their parts",
		Long: `wasmcas splits WebAssembly components and core modules into content-addressed
parts with one root digest that verifies every byte, stores them in OCI image
layouts and registries, and moves only the parts the other side lacks.

Options can also be set in a config file (--config, default
$XDG_CONFIG_HOME/wasmcas/config.yaml) and in WASMCAS_* environment variables
(WASMCAS_CACHE_DIR sets --cache-dir). Flags win over the environment, which
wins over the config file.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return loadConfig(v, configFile, cmd)
		},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.PersistentFlags().StringVar(&configFile, "config", "", "config file (default $XDG_CONFIG_HOME/wasmcas/config.yaml)")

	root.AddCommand(
		newVersionCommand(streams),
		newDigestCommand(streams),
		newSplitCommand(streams),
		newSpliceCommand(streams),
		newInspectCommand(streams),
		newDiffCommand(streams),
		newPublishCommand(streams),
		newFetchCommand(streams),
		newServeCommand(streams),
		newLoginCommand(streams),
		newLogoutCommand(streams),
	)
	return root
}

// loadConfig reads the config file and the environment into v and applies
// their values to every flag of cmd that was not set on the command line.
func loadConfig(v *viper.Viper, configFile string, cmd *cobra.Command) error {
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()

	if configFile == "" {
		if dir, err := os.UserConfigDir(); err == nil {
			candidate := filepath.Join(dir, "wasmcas", "config.yaml")
			if _, err := os.Stat(candidate); err == nil {
				configFile = candidate
			}
		}
	}
	if configFile != "" {
		v.SetConfigFile(configFile)
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("read config file %s: %w", configFile, err)
		}
	}

	var applyErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if applyErr != nil || f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		if !v.IsSet(f.Name) {
			return
		}
		value := v.Get(f.Name)
		var text string
		switch value := value.(type) {
		case []any:
			for _, item := range value {
				if err := f.Value.Set(fmt.Sprint(item)); err != nil {
					applyErr = fmt.Errorf("option %s: %w", f.Name, err)
				}
			}
			return
		default:
			text = fmt.Sprint(value)
		}
		if err := f.Value.Set(text); err != nil {
			applyErr = fmt.Errorf("option %s=%q from the config file or environment: %w", f.Name, text, err)
		}
	})
	return applyErr
}
