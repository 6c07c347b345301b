// Command wasmcas-bench measures wasmcas against sha256sum, cp, oras, xdelta3
// and byte-level content-defined chunking, and writes the results as a
// Markdown page with charts. bench/run builds and runs it; see that script
// for the tools it installs.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type config struct {
	repo       string // repository root
	corpus     string
	tmp        string // scratch directory, removed by bench/run
	wasmcas    string
	oras       string // empty when oras is unavailable
	xdelta3    string // empty when xdelta3 is unavailable
	out        string // Markdown page
	chart      string // PNG chart of the ratios, linked from the page
	bytesChart string
	quick      bool
	runs       int // runs per command on corpus inputs
	bigRuns    int // runs per command on the synthetic file
	bigSize    int64
	verbose    bool
	notes      []string // lines for the page about skipped comparisons
}

type input struct {
	name   string
	path   string
	size   int64
	sha256 string
}

type pair struct {
	name   string
	v1, v2 *input
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "profile" {
		if err := profileMain(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "wasmcas-bench profile: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "synth" {
		if len(os.Args) != 4 {
			fmt.Fprintln(os.Stderr, "usage: wasmcas-bench synth FILE SIZE")
			os.Exit(2)
		}
		var size int64
		fmt.Sscan(os.Args[3], &size)
		if err := writeSynth(os.Args[2], size); err != nil {
			fmt.Fprintf(os.Stderr, "wasmcas-bench synth: %v\n", err)
			os.Exit(1)
		}
		return
	}
	cfg := &config{}
	flag.StringVar(&cfg.repo, "repo", ".", "repository root")
	flag.StringVar(&cfg.corpus, "corpus", "", "corpus folder (default WASMCAS_CORPUS, else ../shared/corpus from the repository root)")
	flag.StringVar(&cfg.tmp, "tmp", "", "scratch directory (required)")
	flag.StringVar(&cfg.wasmcas, "wasmcas", "", "wasmcas binary (required)")
	flag.StringVar(&cfg.oras, "oras", "", "oras binary; oras comparisons are skipped when empty")
	flag.StringVar(&cfg.xdelta3, "xdelta3", "", "xdelta3 binary; the delta floor is skipped when empty")
	flag.StringVar(&cfg.out, "out", "", "Markdown page to write (required)")
	flag.BoolVar(&cfg.quick, "quick", false, "smoke run: 2 runs, version pairs only, no synthetic file")
	flag.IntVar(&cfg.runs, "runs", 9, "runs per command on corpus inputs (at least 5 outside -quick)")
	flag.IntVar(&cfg.bigRuns, "big-runs", 5, "runs per command on the synthetic file (at least 5 outside -quick)")
	flag.Int64Var(&cfg.bigSize, "big-size", 1<<30, "size in bytes of the synthetic component")
	flag.BoolVar(&cfg.verbose, "v", true, "print each median to stderr")
	flag.Parse()
	if cfg.tmp == "" || cfg.wasmcas == "" || cfg.out == "" {
		fmt.Fprintln(os.Stderr, "wasmcas-bench: -tmp, -wasmcas and -out are required")
		os.Exit(2)
	}
	if cfg.quick {
		cfg.runs, cfg.bigRuns = 2, 0
	} else if cfg.runs < 5 || cfg.bigRuns < 5 {
		fmt.Fprintln(os.Stderr, "wasmcas-bench: -runs and -big-runs must be at least 5 outside -quick")
		os.Exit(2)
	}
	ext := filepath.Ext(cfg.out)
	base := strings.TrimSuffix(cfg.out, ext)
	cfg.chart = base + "-ratios.png"
	cfg.bytesChart = base + "-bytes.png"
	// Stop the registry when interrupted, so that no server outlives the
	// run. bench/run removes the scratch folder.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		if reg := running.Load(); reg != nil {
			reg.stop()
		}
		fmt.Fprintf(os.Stderr, "wasmcas-bench: stopped by %v\n", sig)
		os.Exit(1)
	}()
	if err := run(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "wasmcas-bench: %v\n", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run(cfg *config) error {
	start := time.Now()
	if cfg.corpus == "" {
		cfg.corpus = os.Getenv("WASMCAS_CORPUS")
	}
	if cfg.corpus == "" {
		cfg.corpus = filepath.Join(cfg.repo, "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(cfg.corpus, "pairs")); err != nil {
		return fmt.Errorf("corpus %s: %w; set WASMCAS_CORPUS to the corpus folder", cfg.corpus, err)
	}
	rep := &report{cfg: cfg}
	rep.machine = describeMachine(cfg)

	// Inputs.
	pairs := []*pair{}
	for _, name := range []string{"js-hello", "go-hello"} {
		v1, err := newInput(name+"-v1", filepath.Join(cfg.corpus, "pairs", name+"-v1.wasm"))
		if err != nil {
			return err
		}
		v2, err := newInput(name+"-v2", filepath.Join(cfg.corpus, "pairs", name+"-v2.wasm"))
		if err != nil {
			return err
		}
		pairs = append(pairs, &pair{name: name, v1: v1, v2: v2})
	}
	timed := []*input{pairs[0].v2, pairs[1].v2}
	if !cfg.quick {
		largest, err := largestCorpusFiles(cfg.corpus, 2)
		if err != nil {
			return err
		}
		timed = append(timed, largest...)
	}
	var big *input
	if !cfg.quick {
		path := filepath.Join(cfg.tmp, "synthetic-1gib.wasm")
		logf("generating the synthetic component (%d bytes)", cfg.bigSize)
		if err := writeSynth(path, cfg.bigSize); err != nil {
			return err
		}
		if out, err := exec.Command(cfg.wasmcas, "inspect", path).CombinedOutput(); err != nil {
			return fmt.Errorf("wasmcas inspect %s: %w: %s", path, err, lastLines(string(out), 5))
		}
		var err error
		if big, err = newInput("synthetic-1gib", path); err != nil {
			return err
		}
		timed = append(timed, big)
		defer os.Remove(path)
	}
	rep.pairs = pairs
	rep.timed = timed
	rep.big = big

	r := &runner{tmp: cfg.tmp, verbose: cfg.verbose}
	home := filepath.Join(cfg.tmp, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	r.env = append(os.Environ(),
		"HOME="+home,
		"XDG_CACHE_HOME="+filepath.Join(home, "cache"),
		"XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"DOCKER_CONFIG="+filepath.Join(home, "docker"),
	)

	logf("figure 1: digest")
	if err := figureDigest(cfg, r, rep); err != nil {
		return err
	}
	logf("figure 2: split")
	if err := figureSplit(cfg, r, rep); err != nil {
		return err
	}

	reg, err := startRegistry(cfg, r.env)
	if err != nil {
		return err
	}
	defer reg.stop()
	rep.registry = reg

	logf("figures 3 and 4: publish")
	if err := figurePublish(cfg, r, rep, reg); err != nil {
		return err
	}
	logf("figure 3: bytes")
	if err := figureBytes(cfg, r, rep); err != nil {
		return err
	}
	logf("figure 5: fetch")
	if err := figureFetch(cfg, r, rep, reg); err != nil {
		return err
	}
	if big != nil {
		logf("figure 6: memory on the synthetic component")
		if err := figureMemory(cfg, r, rep, reg); err != nil {
			return err
		}
	} else {
		cfg.notes = append(cfg.notes, "Figure 6 (memory on the 1 GiB synthetic component) is skipped in --quick mode.")
	}
	logf("figure 7: --strip-debug")
	if err := figureStripDebug(cfg, r, rep, reg); err != nil {
		return err
	}
	logf("profiles")
	if err := collectProfiles(cfg, r, rep, reg); err != nil {
		return err
	}
	logf("Go benchmarks")
	if err := goBenchmarks(cfg, rep); err != nil {
		return err
	}
	rep.elapsed = time.Since(start)
	rep.machine.loadEnd = loadAverage()
	logf("writing %s", cfg.out)
	if err := writeCharts(cfg, rep); err != nil {
		return err
	}
	return writePage(cfg, rep)
}

func newInput(name, path string) (*input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &input{name: name, path: path, size: n, sha256: hex.EncodeToString(h.Sum(nil))}, nil
}

// largestCorpusFiles returns the n largest .wasm files of the corpus outside
// pairs/ and edge/.
func largestCorpusFiles(corpus string, n int) ([]*input, error) {
	var files []string
	err := filepath.WalkDir(corpus, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "pairs" || d.Name() == "edge") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".wasm") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	size := func(p string) int64 {
		st, _ := os.Stat(p)
		return st.Size()
	}
	slices.SortFunc(files, func(a, b string) int { return int(size(b) - size(a)) })
	var out []*input
	for _, f := range files[:min(n, len(files))] {
		in, err := newInput(strings.TrimSuffix(filepath.Base(f), ".wasm"), f)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// running is the registry to stop when the harness is interrupted.
var running atomic.Pointer[registry]

// registry is a `wasmcas serve` process on loopback.
type registry struct {
	host string
	cmd  *exec.Cmd
	root string
}

func startRegistry(cfg *config, env []string) (*registry, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	host := l.Addr().String()
	l.Close()
	root := filepath.Join(cfg.tmp, "registry")
	cmd := exec.Command(cfg.wasmcas, "serve", "--addr", host, "--root", root)
	cmd.Env = env
	logFile, err := os.Create(filepath.Join(cfg.tmp, "serve.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	reg := &registry{host: host, cmd: cmd, root: root}
	running.Store(reg)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return reg, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	reg.stop()
	return nil, fmt.Errorf("wasmcas serve on %s did not respond to /v2/ within 20s; see %s", host, logFile.Name())
}

func (reg *registry) stop() {
	if reg.cmd.Process == nil {
		return
	}
	reg.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { reg.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		reg.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(reg.root)
	reg.cmd.Process = nil
}

func (reg *registry) ref(repo, tag string) string { return reg.host + "/" + repo + ":" + tag }

// execQuiet runs a setup command and returns its standard output.
func execQuiet(env []string, dir string, argv ...string) ([]byte, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, lastLines(stderr.String(), 5))
	}
	return out, nil
}

func decodeJSON(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("invalid JSON output %q: %w", lastLines(string(b), 3), err)
	}
	return nil
}
