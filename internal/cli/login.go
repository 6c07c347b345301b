package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/wasmcas/wasmcas/internal/registry"
)

type loginOptions struct {
	host          string
	username      string
	passwordStdin bool
	plainHTTP     bool
}

func newLoginCommand(streams Streams) *cobra.Command {
	opts := &loginOptions{}
	cmd := &cobra.Command{
		Use:   "login HOST",
		Short: "Log in to a registry",
		Long: `Check credentials against the registry HOST and store them in the Docker
config file or its credential helper, where docker, oras and wasmcas all find
them. The password is read from stdin with --password-stdin, or prompted for
on a terminal; it is never printed.`,
		Example: `  echo "$TOKEN" | wasmcas login ghcr.io -u USER --password-stdin`,
		Args:    exactArgs("HOST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.host = args[0]
			return runLogin(cmd, streams, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.username, "username", "u", "", "user name (required)")
	cmd.Flags().BoolVar(&opts.passwordStdin, "password-stdin", false, "read the password or token from stdin")
	cmd.Flags().BoolVar(&opts.plainHTTP, "plain-http", false, "use plain HTTP for a registry that is not on loopback")
	return cmd
}

func runLogin(cmd *cobra.Command, streams Streams, opts *loginOptions) error {
	if opts.username == "" {
		return errors.New("missing -u/--username")
	}
	var password string
	switch {
	case opts.passwordStdin:
		line, err := bufio.NewReader(streams.In).ReadString('\n')
		if err != nil && line == "" {
			if errors.Is(err, io.EOF) {
				return errors.New("no password on stdin: pipe the password or token into --password-stdin")
			}
			return fmt.Errorf("read password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	default:
		in, ok := streams.In.(*os.File)
		if !ok || !term.IsTerminal(int(in.Fd())) {
			return errors.New("no terminal to prompt for a password: use --password-stdin")
		}
		fmt.Fprint(streams.ErrOut, "Password: ")
		raw, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(streams.ErrOut)
		if err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		password = string(raw)
	}
	if password == "" {
		return errors.New("empty password")
	}

	store, err := credentials.NewStoreFromDocker(credentials.StoreOptions{AllowPlaintextPut: true})
	if err != nil {
		return fmt.Errorf("open Docker credentials: %w", err)
	}
	reg, err := remote.NewRegistry(opts.host)
	if err != nil {
		return fmt.Errorf("invalid registry host %q: %w", opts.host, err)
	}
	reg.PlainHTTP = opts.plainHTTP || registry.IsLoopback(opts.host)
	cred := auth.Credential{Username: opts.username, Password: password}
	if err := credentials.Login(cmd.Context(), store, reg, cred); err != nil {
		return fmt.Errorf("login to %s failed: %w", opts.host, err)
	}
	_, err = fmt.Fprintf(streams.Out, "Login succeeded for %s\n", opts.host)
	return err
}

func newLogoutCommand(streams Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "logout HOST",
		Short: "Remove the stored credentials of a registry",
		Args:  exactArgs("HOST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := credentials.NewStoreFromDocker(credentials.StoreOptions{})
			if err != nil {
				return fmt.Errorf("open Docker credentials: %w", err)
			}
			if cred, err := store.Get(cmd.Context(), args[0]); err == nil && cred == auth.EmptyCredential {
				_, err = fmt.Fprintf(streams.Out, "Not logged in to %s\n", args[0])
				return err
			}
			if err := credentials.Logout(cmd.Context(), store, args[0]); err != nil {
				return fmt.Errorf("logout from %s failed: %w", args[0], err)
			}
			_, err = fmt.Fprintf(streams.Out, "Removed credentials for %s\n", args[0])
			return err
		},
	}
}
