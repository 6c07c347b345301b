package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/wasmcas/wasmcas/internal/cli"
)

// profileMain runs a wasmcas command line in this process, as the wasmcas
// binary would, under a CPU profile: `profile -o PREFIX -n N [-rm PATH]
// [-setup JSON] -- ARGS...`. Each of the N iterations removes the -rm paths,
// runs the -setup command line unprofiled, then runs ARGS with the profile
// written to PREFIX.I. "{i}" in any argument is replaced by the iteration
// number.
func profileMain(args []string) error {
	fs := flag.NewFlagSet("profile", flag.ContinueOnError)
	prefix := fs.String("o", "", "profile file prefix")
	n := fs.Int("n", 1, "iterations")
	setup := fs.String("setup", "", "JSON array: command line run before each iteration, not profiled")
	allocs := fs.String("allocs", "", "also write the allocation profile of all iterations to this file")
	var remove stringList
	fs.Var(&remove, "rm", "path removed before each iteration (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var setupArgs []string
	if *setup != "" {
		if err := json.Unmarshal([]byte(*setup), &setupArgs); err != nil {
			return fmt.Errorf("invalid -setup: %w", err)
		}
	}
	ctx := context.Background()
	quiet := cli.Streams{In: strings.NewReader(""), Out: io.Discard, ErrOut: os.Stderr}
	for i := range *n {
		sub := func(s []string) []string {
			out := make([]string, len(s))
			for j, a := range s {
				out[j] = strings.ReplaceAll(a, "{i}", strconv.Itoa(i))
			}
			return out
		}
		for _, p := range sub(remove) {
			os.RemoveAll(p)
		}
		if len(setupArgs) > 0 {
			if code := cli.Run(ctx, sub(setupArgs), quiet); code != 0 {
				return fmt.Errorf("setup %v exited with %d", sub(setupArgs), code)
			}
		}
		f, err := os.Create(*prefix + "." + strconv.Itoa(i))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		code := cli.Run(ctx, sub(fs.Args()), quiet)
		pprof.StopCPUProfile()
		f.Close()
		if code != 0 {
			return fmt.Errorf("%v exited with %d", sub(fs.Args()), code)
		}
	}
	if *allocs != "" {
		f, err := os.Create(*allocs)
		if err != nil {
			return err
		}
		defer f.Close()
		return pprof.Lookup("allocs").WriteTo(f, 0)
	}
	return nil
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// profileResult is the top of one CPU profile.
type profileResult struct {
	name    string
	command string
	top     string // output of go tool pprof -top
	// own is the top with only wasmcas's functions shown, so that each
	// one's flat time includes the library code and system calls it calls.
	own string
	// allocs is the top of the allocation profile by bytes allocated, for
	// jobs that record one.
	allocs string
}

// wasmcasFunctions selects the functions of the packages that do the work,
// leaving out the command layer (cli, cobra) that is on every stack.
const wasmcasFunctions = `wasmcas/internal/(split|wasmbin|cache|registry|transfer)\.`

func collectProfiles(cfg *config, r *runner, rep *report, reg *registry) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir := filepath.Join(cfg.tmp, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js := rep.pairs[0]
	cache := filepath.Join(cfg.tmp, "profile-cache")
	out := filepath.Join(cfg.tmp, "profile-out.wasm")
	// iterations scales the iteration counts down to one in -quick mode,
	// where the profiles only check that this code works.
	iterations := func(n int) string {
		if cfg.quick {
			n = 1
		}
		return strconv.Itoa(n)
	}
	type job struct {
		name, command string
		flags         []string
		args          []string
	}
	// One digest profile per timed input, so that every digest target has
	// a profile to explain a miss.
	var jobs []job
	for _, in := range rep.timed {
		n := 30
		if in == rep.big {
			n = 2
		}
		jobs = append(jobs, job{"digest-" + in.name, "wasmcas digest " + in.name, []string{"-n", iterations(n)}, []string{"digest", in.path}})
	}
	jobs = append(jobs, job{"split-" + js.v2.name, "wasmcas split " + js.v2.name, []string{"-n", iterations(20), "-rm", filepath.Join(cfg.tmp, "profile-layout")},
		[]string{"split", js.v2.path, "-o", filepath.Join(cfg.tmp, "profile-layout")}})
	if rep.big != nil && rep.bigRef != "" {
		// Figure 6 measures the peak memory of this fetch, so the job also
		// records where it allocates.
		jobs = append(jobs, job{"fetch-cold-" + rep.big.name, "wasmcas fetch " + rep.big.name + ", cold",
			[]string{"-n", "1", "-rm", cache, "-allocs", filepath.Join(dir, "fetch-cold-"+rep.big.name+".allocs")},
			[]string{"fetch", rep.bigRef, "-o", out, "--cache-dir", cache, "--progress=never"}})
	}
	for _, p := range rep.pairs {
		wrepo := "fetch/wasmcas-" + p.name
		jobs = append(jobs,
			job{"publish-" + p.name, "wasmcas publish " + p.v2.name + " after " + p.v1.name, []string{"-n", iterations(8),
				"-setup", jsonArgs("publish", p.v1.path, reg.ref("profile/publish-"+p.name+"-{i}", "v1"), "--progress=never")},
				[]string{"publish", p.v2.path, reg.ref("profile/publish-"+p.name+"-{i}", "v2"), "--progress=never"}},
			job{"fetch-cold-" + p.name, "wasmcas fetch " + p.v2.name + ", cold", []string{"-n", iterations(5), "-rm", cache},
				[]string{"fetch", reg.ref(wrepo, p.v2.name), "-o", out, "--cache-dir", cache, "--progress=never"}},
			job{"fetch-warm-" + p.name, "wasmcas fetch " + p.v2.name + ", warm", []string{"-n", iterations(8), "-rm", cache,
				"-setup", jsonArgs("fetch", reg.ref(wrepo, p.v1.name), "-o", out, "--cache-dir", cache, "--progress=never")},
				[]string{"fetch", reg.ref(wrepo, p.v2.name), "-o", out, "--cache-dir", cache, "--progress=never"}},
		)
	}
	for _, j := range jobs {
		prefix := filepath.Join(dir, j.name+".prof")
		argv := append([]string{self, "profile", "-o", prefix}, j.flags...)
		argv = append(argv, "--")
		argv = append(argv, j.args...)
		if _, err := execQuiet(r.env, "", argv...); err != nil {
			return fmt.Errorf("profile %s: %w", j.name, err)
		}
		files, _ := filepath.Glob(prefix + ".*")
		top, err := exec.Command("go", append([]string{"tool", "pprof", "-top", "-nodecount=12"}, files...)...).Output()
		if err != nil {
			return fmt.Errorf("go tool pprof %s: %w", j.name, err)
		}
		cum, err := exec.Command("go", append([]string{"tool", "pprof", "-top", "-nodecount=12", "-show=" + wasmcasFunctions}, files...)...).Output()
		if err != nil {
			return fmt.Errorf("go tool pprof %s: %w", j.name, err)
		}
		res := profileResult{name: j.name, command: j.command, top: trimPprof(string(top)), own: trimPprof(string(cum))}
		allocsFile := filepath.Join(dir, j.name+".allocs")
		if _, err := os.Stat(allocsFile); err == nil {
			a, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=12", "-sample_index=alloc_space", "-show="+wasmcasFunctions, allocsFile).Output()
			if err != nil {
				return fmt.Errorf("go tool pprof %s: %w", allocsFile, err)
			}
			res.allocs = trimPprof(string(a))
		}
		rep.profiles = append(rep.profiles, res)
	}
	os.RemoveAll(cache)
	os.Remove(out)
	os.RemoveAll(filepath.Join(cfg.tmp, "profile-layout"))
	return nil
}

func jsonArgs(args ...string) string {
	b, _ := json.Marshal(args)
	return string(b)
}

// trimPprof drops the lines of pprof's header that name local files.
func trimPprof(s string) string {
	var keep []string
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if strings.HasPrefix(line, "File:") || strings.HasPrefix(line, "Build ID:") || strings.HasPrefix(line, "Type:") || strings.HasPrefix(line, "Time:") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}
