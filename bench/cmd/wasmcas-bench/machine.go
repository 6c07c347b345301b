package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

type machine struct {
	cpu, memory, goVersion, commit, kernel string
	loadStart, loadEnd                     string
	cores                                  int
	tools                                  []string
}

func describeMachine(cfg *config) machine {
	m := machine{cpu: "unknown", memory: "unknown", cores: runtime.NumCPU()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				m.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
		f.Close()
	}
	m.loadStart = loadAverage()
	m.goVersion = firstLine(exec.Command("go", "version").Output())
	m.kernel = firstLine(exec.Command("uname", "-sr").Output())
	commit := firstLine(exec.Command("git", "-C", cfg.repo, "rev-parse", "--short=12", "HEAD").Output())
	if st := firstLine(exec.Command("git", "-C", cfg.repo, "status", "--porcelain", "--untracked-files=no").Output()); st != "" {
		commit += " with uncommitted changes"
	}
	m.commit = commit
	m.tools = append(m.tools, "sha256sum: "+firstLine(exec.Command("sha256sum", "--version").Output()))
	if cfg.oras != "" {
		m.tools = append(m.tools, "oras: "+strings.Join(strings.Fields(firstLine(exec.Command(cfg.oras, "version").Output())), " "))
	}
	if cfg.xdelta3 != "" {
		out, _ := exec.Command(cfg.xdelta3, "-V").CombinedOutput()
		m.tools = append(m.tools, "xdelta3: "+firstLine(out, nil))
	}
	return m
}

func firstLine(b []byte, err error) string {
	if err != nil && len(b) == 0 {
		return ""
	}
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(s)
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// goBenchmarks runs the Go benchmarks of the reader and the split package.
func goBenchmarks(cfg *config, rep *report) error {
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem"}
	if cfg.quick {
		args = append(args, "-benchtime", "1x")
	} else {
		args = append(args, "-count", "1")
	}
	args = append(args, "./internal/wasmbin", "./internal/split")
	cmd := exec.Command("go", args...)
	cmd.Dir = cfg.repo
	cmd.Env = append(os.Environ(), "WASMCAS_CORPUS="+cfg.corpus)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, lastLines(string(out), 10))
	}
	rep.goBench = "go " + strings.Join(args, " ") + "\n\n" + strings.TrimSpace(string(out))
	return nil
}

// loadAverage returns the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}
