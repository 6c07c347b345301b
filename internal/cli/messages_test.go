package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmcas/wasmcas/internal/serve/servetest"
)

func TestErrorMessages(t *testing.T) {
	srv := servetest.Start(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	module := filepath.Join("..", "..", "testdata", "data-segments.wasm")
	if _, errOut, code := run(t, "publish", module, srv.Addr()+"/acme/mod:1"); code != 0 {
		t.Fatalf("publish: %s", errOut)
	}
	fileDigest, _, _ := run(t, "inspect", "--json", module)
	var sha string
	if i := strings.Index(fileDigest, `"file_digest": "`); i >= 0 {
		sha = fileDigest[i+len(`"file_digest": "`):]
		sha = sha[:strings.Index(sha, `"`)]
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing tag", []string{"fetch", srv.Addr() + "/acme/mod:9.9.9", "-o", filepath.Join(dir, "o")}, "tag 9.9.9 not found in repository " + srv.Addr() + "/acme/mod"},
		{"unreachable registry", []string{"fetch", "127.0.0.1:1/acme/mod:1", "-o", filepath.Join(dir, "o")}, "registry 127.0.0.1:1 is not reachable"},
		{"uppercase repository", []string{"fetch", "UPPER/Case", "-o", filepath.Join(dir, "o")}, "repository names must be lowercase"},
		{"host without repository", []string{"fetch", "host.io/", "-o", filepath.Join(dir, "o")}, "missing repository after the registry host"},
		{"output in missing directory", []string{"fetch", "acme/mod:1", "-o", filepath.Join(dir, "none", "o"), "--store-dir", store}, "directory " + filepath.Join(dir, "none") + " does not exist"},
		{"output is a directory", []string{"fetch", "acme/mod:1", "-o", dir, "--store-dir", store}, "is a directory"},
		{"missing output", []string{"fetch", "acme/mod:1"}, "missing -o/--output"},
		{"missing argument", []string{"publish", module}, "missing REF"},
		{"extra argument", []string{"digest", module, module}, "unexpected argument"},
		{"invalid tag", []string{"split", module, "-o", filepath.Join(dir, "layout"), "--tag", "bad tag"}, `invalid --tag "bad tag"`},
		{"file digest pinned", []string{"fetch", srv.Addr() + "/acme/mod:1", "-o", filepath.Join(dir, "o"), "--digest", sha}, "That is the whole-file SHA-256"},
		{"wit on a core module", []string{"inspect", "--wit", module}, "--wit needs a component"},
		{"diff of a directory", []string{"diff", dir, module}, "diff compares two binaries"},
		{"serve without root", []string{"serve"}, "missing --root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, tt.args...)
			if code == 0 {
				t.Fatalf("exit status 0, stdout %q", out)
			}
			if strings.Count(errOut, "\n") != 1 {
				t.Errorf("stderr is not one line: %q", errOut)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.want)
			}
		})
	}
}

func TestWITFromConfigSkipsCoreModules(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(config, []byte("wit: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "--config", config, "inspect", filepath.Join("..", "..", "testdata", "data-segments.wasm"))
	if code != 0 {
		t.Errorf("inspect of a core module with wit in the config file failed: %s", errOut)
	}
}

func TestVersionFlag(t *testing.T) {
	out, _, code := run(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "wasmcas ") {
		t.Errorf("--version: status %d, stdout %q", code, out)
	}
	command, _, _ := run(t, "version")
	if command != out {
		t.Errorf("version printed %q, --version printed %q", command, out)
	}
}

func TestLogoutWhenNotLoggedIn(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	out, errOut, code := run(t, "logout", "registry.invalid")
	if code != 0 || !strings.Contains(out, "Not logged in to registry.invalid") {
		t.Errorf("status %d, stdout %q, stderr %q", code, out, errOut)
	}
}
