package testutil

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// CorpusEnv is the environment variable that names the corpus directory.
// .ci/run sets it, so tests that need the corpus run in CI and are skipped
// in a plain `go test ./...` elsewhere.
const CorpusEnv = "WASMCAS_CORPUS"

// badDir is the corpus subdirectory of malformed files that a parser must
// reject, relative to the corpus root and in slash form.
const badDir = "edge/bad"

// Corpus returns the absolute path of the corpus directory named by
// WASMCAS_CORPUS. It skips the test when the variable is unset or empty, and
// fails it when the variable names something that is not a directory,
// because that is a broken setup rather than a missing one.
func Corpus(t testing.TB) string {
	t.Helper()

	dir := os.Getenv(CorpusEnv)
	if dir == "" {
		t.Skip("WASMCAS_CORPUS is not set; set it to the corpus directory to run this test (.ci/run sets it to ../shared/corpus)")
	}

	absolute, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("%s=%q: invalid path: %v", CorpusEnv, dir, err)
	}

	info, err := os.Stat(absolute)
	if err != nil {
		t.Fatalf("%s=%q: %v", CorpusEnv, dir, err)
	}
	if !info.IsDir() {
		t.Fatalf("%s=%q is not a directory", CorpusEnv, dir)
	}

	return absolute
}

// CorpusFiles returns the absolute paths of every .wasm file in the corpus
// outside edge/bad/, sorted. It fails the test when there are none, so that
// a loop over the result cannot pass without checking anything.
func CorpusFiles(t testing.TB) []string {
	t.Helper()

	root := Corpus(t)
	files := listWasm(t, root, func(relative string) bool {
		return !isUnder(relative, badDir)
	})
	if len(files) == 0 {
		t.Fatalf("no .wasm files found in corpus %s outside %s/", root, badDir)
	}

	return files
}

// BadCorpusFiles returns the absolute paths of every .wasm file under
// edge/bad/ in the corpus, sorted. These files are malformed on purpose. It
// fails the test when there are none.
func BadCorpusFiles(t testing.TB) []string {
	t.Helper()

	root := Corpus(t)
	files := listWasm(t, root, func(relative string) bool {
		return isUnder(relative, badDir)
	})
	if len(files) == 0 {
		t.Fatalf("no .wasm files found in %s", filepath.Join(root, filepath.FromSlash(badDir)))
	}

	return files
}

// listWasm walks root and returns the sorted absolute paths of the regular
// .wasm files whose slash-separated path relative to root passes include.
func listWasm(t testing.TB, root string, include func(relative string) bool) []string {
	t.Helper()

	var files []string
	err := filepath.WalkDir(root, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !entry.Type().IsRegular() || filepath.Ext(path) != ".wasm" {
			return nil
		}

		relative, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if include(filepath.ToSlash(relative)) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("failed to list corpus %s: %v", root, err)
	}

	sort.Strings(files)
	return files
}

// isUnder reports whether the slash-separated relative path lies inside dir.
func isUnder(relative, dir string) bool {
	return strings.HasPrefix(relative, dir+"/")
}
