package serve

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/distribution/distribution/v3/configuration"
)

// DefaultAddr is the listen address used when Config.Addr is empty.
const DefaultAddr = "127.0.0.1:5000"

// Config sets up a registry started by Start or Run.
type Config struct {
	Addr   string       // listen address, default "127.0.0.1:5000"; "127.0.0.1:0" picks a free port
	Root   string       // directory for the filesystem storage driver (created if missing)
	Logger *slog.Logger // nil means slog.Default()
}

// normalize returns a copy of cfg with defaults filled in and Root made
// absolute, or an error naming the first invalid value.
func (cfg Config) normalize() (Config, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}

	if err := validateAddr(cfg.Addr); err != nil {
		return Config{}, err
	}

	if cfg.Root == "" {
		return Config{}, errors.New("missing registry root: set the storage directory to a writable path")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return Config{}, fmt.Errorf("invalid registry root %q: %w", cfg.Root, err)
	}
	cfg.Root = root

	return cfg, nil
}

// validateAddr checks that addr is host:port with a numeric port in range.
// Whether the address can actually be bound is left to net.Listen.
func validateAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid listen address %q: expected host:port such as %q", addr, DefaultAddr)
	}
	number, err := strconv.Atoi(port)
	if err != nil || number < 0 || number > 65535 {
		return fmt.Errorf("invalid listen address %q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}

// prepareRoot creates root if it is missing and rejects a path that exists
// but is not a directory.
func prepareRoot(root string) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("create registry root %q: %w", root, err)
	}
	info, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("inspect registry root %q: %w", root, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("invalid registry root %q: not a directory", root)
	}
	return nil
}

// distributionConfig builds the Distribution configuration for root and the
// address the listener actually bound.
func distributionConfig(root, addr string) (*configuration.Configuration, error) {
	secret, err := randomSecret()
	if err != nil {
		return nil, err
	}

	config := &configuration.Configuration{
		Version: "0.1",
		Storage: configuration.Storage{
			"filesystem": configuration.Parameters{"rootdirectory": root},
			"delete":     configuration.Parameters{"enabled": true},
			"cache":      configuration.Parameters{"blobdescriptor": "inmemory"},
		},
		// The parser sets this default, but a configuration built in code
		// starts at zero, which would make the catalog return nothing.
		Catalog: configuration.Catalog{MaxEntries: 1000},
	}
	config.HTTP.Addr = addr
	config.HTTP.Net = "tcp"
	// The secret signs upload state between requests. Uploads interrupted by
	// a restart must begin again because each start picks a new secret.
	// Distribution would do the same if the secret were empty, but it would
	// also log a warning about load balancers on every start.
	config.HTTP.Secret = secret
	config.Log.AccessLog.Disabled = true

	return config, nil
}

func randomSecret() (string, error) {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("generate registry HTTP secret: %w", err)
	}
	return hex.EncodeToString(buf), nil
}
