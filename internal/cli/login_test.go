package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmcas/wasmcas/internal/serve/servetest"
)

func TestLoginStoresAndLogoutRemoves(t *testing.T) {
	srv := servetest.Start(t)
	dockerConfig := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dockerConfig)
	const password = "s3cret-token"

	var out, errOut bytes.Buffer
	streams := Streams{In: strings.NewReader(password + "\n"), Out: &out, ErrOut: &errOut}
	if code := Run(context.Background(), []string{"login", srv.Addr(), "-u", "ci", "--password-stdin"}, streams); code != 0 {
		t.Fatalf("login: status %d, stderr %q", code, errOut.String())
	}
	if strings.Contains(out.String()+errOut.String(), password) {
		t.Error("login printed the password")
	}
	config, err := os.ReadFile(filepath.Join(dockerConfig, "config.json"))
	if err != nil {
		t.Fatalf("login wrote no Docker config: %v", err)
	}
	if !strings.Contains(string(config), srv.Addr()) {
		t.Errorf("Docker config %s has no entry for %s", config, srv.Addr())
	}

	if _, errOut, code := run(t, "logout", srv.Addr()); code != 0 {
		t.Fatalf("logout: %s", errOut)
	}
	config, _ = os.ReadFile(filepath.Join(dockerConfig, "config.json"))
	if strings.Contains(string(config), srv.Addr()) {
		t.Errorf("Docker config still has %s after logout: %s", srv.Addr(), config)
	}
}

func TestLoginWithoutPasswordSource(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	_, errOut, code := run(t, "login", "127.0.0.1:5999", "-u", "ci")
	if code == 0 || !strings.Contains(errOut, "--password-stdin") {
		t.Errorf("status %d, stderr %q; want an error that suggests --password-stdin", code, errOut)
	}
}
