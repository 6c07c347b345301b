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
		if ctx.Err() != nil {
			// A signal cancelled the work. Report the interrupt rather than
			// the request it happened to stop, and exit as shells expect
			// after SIGINT.
			fmt.Fprintln(streams.ErrOut, "wasmcas: interrupted")
			return 130
		}
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
	root.Version = versionString()
	root.SetVersionTemplate("wasmcas {{.Version}}\n")
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

// sourceAnnotation is the flag annotation that records where a value set
// outside the command line came from, so errors can name it.
const sourceAnnotation = "wasmcas-source"

// loadConfig reads the config file and the environment into v and applies
// their values to every flag of cmd that was not set on the command line.
// Keys of the config file that no command has are reported on stderr.
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
		known := allFlagNames(cmd.Root())
		for _, key := range v.AllKeys() {
			if !known[key] {
				fmt.Fprintf(cmd.ErrOrStderr(), "wasmcas: warning: unknown key %q in config file %s\n", key, configFile)
			}
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
		source := "config file " + configFile
		if env := envName(f.Name); os.Getenv(env) != "" {
			source = env
		}
		var values []string
		switch value := v.Get(f.Name).(type) {
		case []any:
			for _, item := range value {
				values = append(values, fmt.Sprint(item))
			}
		default:
			values = []string{fmt.Sprint(value)}
		}
		for _, text := range values {
			if err := f.Value.Set(text); err != nil {
				applyErr = fmt.Errorf("invalid %s %q in %s: expected a value of type %s", f.Name, text, source, f.Value.Type())
				return
			}
		}
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[sourceAnnotation] = []string{source}
	})
	return applyErr
}

// envName returns the environment variable that sets a flag.
func envName(flag string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// flagSource names where a flag's value came from: "--name" on the command
// line, or the environment variable or config file that set it.
func flagSource(cmd *cobra.Command, name string) string {
	if f := cmd.Flags().Lookup(name); f != nil {
		if source := f.Annotations[sourceAnnotation]; len(source) > 0 {
			return name + " in " + source[0]
		}
	}
	return "--" + name
}

// allFlagNames returns the names of every flag of every command.
func allFlagNames(root *cobra.Command) map[string]bool {
	names := map[string]bool{}
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		for _, child := range c.Commands() {
			visit(child)
		}
	}
	visit(root)
	return names
}
