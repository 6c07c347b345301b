package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type report struct {
	cfg      *config // the configuration of this run
	machine  machine
	pairs    []*pair
	timed    []*input
	big      *input
	bigRef   string // reference of the synthetic file in the registry
	startup  []*stats
	registry *registry
	digest   []digestRow
	split    []digestRow
	publish  []publishRow
	bytes    []bytesRow
	fetch    []fetchRow
	memory   []memoryRow
	strip    []*stripRow
	profiles []profileResult
	goBench  string
	elapsed  time.Duration
}

// target is one row of the targets table.
type target struct {
	name     string
	measured string
	met      bool
	profile  string // profile that explains a miss, by name
	gap      string
}

const memoryTarget = 128 << 20

func (rep *report) targets() []target {
	var ts []target
	for _, d := range rep.digest {
		r := ratio(d.wasmcas, d.anchor)
		ts = append(ts, target{
			name:     "digest time ≤ 1.15× sha256sum, " + d.in.name,
			measured: fmt.Sprintf("%.2f×", r),
			met:      r <= 1.15,
			profile:  "digest-" + d.in.name,
			gap:      fmt.Sprintf("%.2f× over the target", r/1.15),
		})
	}
	for _, p := range rep.publish {
		if p.oras == nil {
			continue
		}
		r := ratio(p.wasmcas, p.oras)
		ts = append(ts, target{
			name: "publish v2 time ≤ 0.5× oras push, " + p.pair.name, measured: fmt.Sprintf("%.2f×", r), met: r <= 0.5,
			profile: "publish-" + p.pair.name, gap: fmt.Sprintf("%.2f× over the target", r/0.5),
		})
	}
	for _, f := range rep.fetch {
		if f.oras == nil {
			continue
		}
		rc, rw := ratio(f.cold, f.oras), ratio(f.warm, f.oras)
		ts = append(ts,
			target{name: "fetch cold time ≤ 1.5× oras pull, " + f.pair.name, measured: fmt.Sprintf("%.2f×", rc), met: rc <= 1.5,
				profile: "fetch-cold-" + f.pair.name, gap: fmt.Sprintf("%.2f× over the target", rc/1.5)},
			target{name: "fetch warm time ≤ 0.7× oras pull, " + f.pair.name, measured: fmt.Sprintf("%.2f×", rw), met: rw <= 0.7,
				profile: "fetch-warm-" + f.pair.name, gap: fmt.Sprintf("%.2f× over the target", rw/0.7)},
		)
	}
	for _, m := range rep.memory {
		if !strings.HasPrefix(m.label, "wasmcas") {
			continue
		}
		t := target{
			name: "peak RSS ≤ 128 MiB, " + m.label + ", " + rep.big.name, measured: mib(m.st.rssMax) + " (max of runs)",
			met: m.st.rssMax <= memoryTarget, gap: fmt.Sprintf("%s over the target", mib(m.st.rssMax-memoryTarget)),
		}
		if strings.HasPrefix(m.label, "wasmcas fetch") {
			t.profile = "fetch-cold-" + rep.big.name
		}
		ts = append(ts, t)
	}
	return ts
}

func writePage(cfg *config, rep *report) error {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := rep.machine

	w("# Benchmarks\n\n")
	if cfg.quick {
		w("**Quick run (`bench/run --quick`): %d runs per command, version pairs only. These numbers check that the harness works and are not results.**\n\n", cfg.runs)
	}
	w("This page is written by `bench/run`, which builds wasmcas, generates the inputs, runs every comparison below and draws the charts. ")
	w("Run it from the repository root with no arguments to reproduce the page. ")
	w("It took %s on the machine below.\n\n", rep.elapsed.Round(time.Second))

	ts := rep.targets()
	met := 0
	for _, t := range ts {
		if t.met {
			met++
		}
	}
	w("## Summary\n\n")
	w("Each timed comparison alternates the commands run by run (A B A B …), %d runs per command on corpus files", cfg.runs)
	if rep.big != nil {
		w(" and %d on the %s synthetic component", cfg.bigRuns, humanBytes(rep.big.size))
	}
	w(", and reports the median with the minimum and maximum. Ratios are wasmcas's median over the anchor's median, so below 1 means wasmcas is faster. ")
	w("All files are in the page cache and the registry is `wasmcas serve` on 127.0.0.1, so the times measure CPU and local disk work, not a network. ")
	w("%d of %d targets are met.", met, len(ts))
	if len(ts) > met {
		w(" The misses, with their causes from CPU profiles, are in [Where wasmcas still loses](#where-wasmcas-still-loses).")
	}
	w("\n\n| target | measured | met |\n|---|---|---|\n")
	for _, t := range ts {
		w("| %s | %s | %s |\n", t.name, t.measured, yesNo(t.met))
	}
	w("\n")
	for _, n := range cfg.notes {
		w("- %s\n", n)
	}
	if len(cfg.notes) > 0 {
		w("\n")
	}
	w("![Ratios of wasmcas to its anchors](%s)\n\n", filepath.Base(cfg.chart))

	w("## Machine and inputs\n\n")
	w("- Load average (1, 5, 15 min) at the start: %s; at the end: %s. Other processes were running on the machine when the load is above 0.\n", m.loadStart, m.loadEnd)
	w("- CPU: %s, %d cores\n- Memory: %s\n- Kernel: %s\n- Go: %s\n- wasmcas commit: %s\n", m.cpu, m.cores, m.memory, m.kernel, m.goVersion, m.commit)
	for _, t := range m.tools {
		w("- %s\n", t)
	}
	w("\n| input | size (bytes) | sha256 |\n|---|---:|---|\n")
	seen := map[*input]bool{}
	var all []*input
	for _, p := range rep.pairs {
		all = append(all, p.v1, p.v2)
	}
	all = append(all, rep.timed...)
	for _, in := range all {
		if seen[in] {
			continue
		}
		seen[in] = true
		w("| %s | %d | `%s` |\n", in.name, in.size, in.sha256)
	}
	w("\nThe version pairs are `pairs/*-v1.wasm` and `pairs/*-v2.wasm` of the corpus (`WASMCAS_CORPUS`, default `../shared/corpus`). ")
	if rep.big != nil {
		w("`%s` is generated by `wasmcas-bench synth` (bench/cmd/wasmcas-bench/synth.go) from a fixed seed. ", rep.big.name)
		w("It is a component that contains one core module. ")
		w("The module has a code section of about 200,000 function bodies of 16 B to 16 KiB with instruction-like bytes (37.5%% of the file), a data section of active segments of 256 B to 4 MiB (25%%), ")
		w("and `.debug_str`, `.debug_line` and `.debug_info` custom sections for the rest. Segment and custom payloads are 4 KiB blocks of random bytes, sparse bytes among zeros, or lowercase text. ")
		w("`wasmcas inspect` parses it before any measurement, and it is deleted at the end of the run.")
	}
	w("\n\n")

	w("## 1. Digest throughput\n\n`wasmcas digest FILE` against `sha256sum FILE` (anchor). Throughput is file size over median time, process start included.\n\n")
	timeTable(&b, rep.digest, "wasmcas digest", "sha256sum")
	if len(rep.startup) == 2 {
		w("Process start-up alone, for scale on the small files: `wasmcas version` %s, `sha256sum --version` %s (anchor), ratio %.2f×.\n\n",
			fmtRange(rep.startup[0]), fmtRange(rep.startup[1]), ratio(rep.startup[0], rep.startup[1]))
	}
	w("## 2. Split\n\n`wasmcas split FILE -o DIR` (new layout each run) against `sh -c 'sha256sum FILE && cp FILE DIR/'` (anchor), which hashes the file and stores one copy of it, as split does. The anchor includes the start of `sh`.\n\n")
	timeTable(&b, rep.split, "wasmcas split", "sha256sum && cp")

	w("## 3. Bytes uploaded by a second publish\n\n")
	w("Bytes sent to a repository that already holds v1. `diff` is `wasmcas diff --json` `new_bytes`; `publish` is `bytes_uploaded` of `wasmcas publish --json` measured in figure 4 (the same in every run). ")
	w("FastCDC is github.com/jotfs/fastcdc-go with minimum avg/4 and maximum 4×avg, counting v2 chunks whose SHA-256 is not among v1's chunks, each once. ")
	w("xdelta3 is the size of `xdelta3 -e -s v1 v2`, a floor that content addressing does not reach. Percentages are of the v2 file. wasmcas's counts include the config, node, pack and pack index blobs it sends, but not the manifest.\n\n")
	w("| pair | whole file (oras push, wkg publish) | FastCDC 64 KiB | FastCDC 8 KiB | wasmcas diff | wasmcas publish | xdelta3 |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.bytes {
		size := r.pair.v2.size
		pct := func(n int64) string {
			if n < 0 {
				return "not run"
			}
			return fmt.Sprintf("%d (%.1f%%)", n, 100*float64(n)/float64(size))
		}
		w("| %s | %s | %s | %s | %s | %s | %s |\n", r.pair.name, pct(size), pct(r.cdc64), pct(r.cdc8), pct(r.diffNew), pct(r.published), pct(r.xdelta))
	}
	w("\n![Bytes sent for the second version](%s)\n\n", filepath.Base(cfg.bytesChart))

	w("## 4. Publish time\n\n`wasmcas publish v2` to a repository where v1 was published just before (untimed), against `oras push` of v2 as one layer to a repository where v1 was pushed the same way (anchor). Every run uses a new repository on the same `wasmcas serve`.\n\n")
	w("| pair | wasmcas publish | oras push (anchor) | ratio |\n|---|---:|---:|---:|\n")
	for _, p := range rep.publish {
		if p.oras == nil {
			w("| %s | %s | not run | |\n", p.pair.name, fmtRange(p.wasmcas))
			continue
		}
		w("| %s | %s | %s | %.2f× |\n", p.pair.name, fmtRange(p.wasmcas), fmtRange(p.oras), ratio(p.wasmcas, p.oras))
	}
	w("\n## 5. Fetch time\n\nCold: `wasmcas fetch` of v2 with an empty cache. Warm: the same after v1 was fetched into an empty cache (untimed). Anchor: `oras pull` of v2 pushed as one layer, into an empty folder. Each output is checked against the file's SHA-256 after every run.\n\n")
	w("| pair | fetch cold | fetch warm | oras pull (anchor) | cold ratio | warm ratio | downloaded cold / warm (bytes) |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range rep.fetch {
		if f.oras == nil {
			w("| %s | %s | %s | not run | | | %d / %d |\n", f.pair.name, fmtRange(f.cold), fmtRange(f.warm), f.coldBytes, f.warmBytes)
			continue
		}
		w("| %s | %s | %s | %s | %.2f× | %.2f× | %d / %d |\n", f.pair.name, fmtRange(f.cold), fmtRange(f.warm), fmtRange(f.oras),
			ratio(f.cold, f.oras), ratio(f.warm, f.oras), f.coldBytes, f.warmBytes)
	}
	w("\n## 6. Peak memory on the synthetic component\n\n")
	if len(rep.memory) == 0 {
		w("Not run (see the notes in the summary).\n\n")
	} else {
		w("Maximum resident set size from `/usr/bin/time -v`, %d runs of each command, alternated. Publish goes to a new repository each run; fetch starts from an empty cache. The wall time of the same runs is shown for scale.\n\n", cfg.bigRuns)
		w("| command | peak RSS median (min–max) | wall time median (min–max) |\n|---|---:|---:|\n")
		for _, mr := range rep.memory {
			w("| %s | %s | %s |\n", mr.label, fmtRSSRange(mr.st), fmtRange(mr.st))
		}
		w("\n")
	}
	w("## 7. Partial fetch of debug-heavy files\n\n")
	w("Corpus files whose `.debug_*` custom sections (summed over nested modules, from `wasmcas inspect --json`) are over 90%% of the file. `bytes_downloaded` of `wasmcas fetch --json` with an empty cache, without and with `--strip-debug`.\n\n")
	w("| file | size | .debug_* | fetch | fetch --strip-debug | stripped output size | --strip-debug / size |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range rep.strip {
		w("| %s | %d | %.1f%% | %d | %d | %d | %.3f |\n", s.in.name, s.in.size, 100*float64(s.debugBytes)/float64(s.in.size), s.full, s.stripped, s.outSize,
			float64(s.stripped)/float64(s.in.size))
	}
	if len(rep.strip) == 0 {
		w("| no corpus file qualifies | | | | | | |\n")
	}

	w("\n## Where wasmcas still loses\n\n")
	w("Common causes, read off the profiles below and figure 1:\n\n")
	if len(rep.startup) == 2 {
		w("- **Start-up.** `wasmcas version` takes %s against %s for `sha256sum --version`. The binary links the registry server (CNCF Distribution), oras-go and the WIT decoder, and their package initialisation runs for every command. On the 3 MB inputs, which sha256sum hashes in about 10 ms, this start-up is a large share of wasmcas's time.\n",
			fmtRange(rep.startup[0]), fmtRange(rep.startup[1]))
	}
	w("- **Loopback.** The registry runs on the same two cores as the client, so moving a byte costs about as much as hashing it. What wasmcas saves is bytes moved (figure 3); over a real network a second publish or a warm fetch is bounded by those bytes, which these wall times do not show.\n")
	w("- **Work per byte.** A cold fetch hashes each leaf as it arrives, writes it to a cache pack, reads it back for the splice and hashes the output for the whole-file check. `oras pull` writes its one blob and hashes it once. SHA-256 and system calls lead the fetch profiles.\n")
	w("- **Round trips.** A publish reads the manifests and pack indexes of the repository's artifacts and sends a HEAD for every blob before it uploads. A fetch reads the manifest, config, pack indexes and nodes one after another before the first range. On loopback these requests cost more time than the bytes they save.\n\n")
	lost := false
	for _, t := range ts {
		if t.met {
			continue
		}
		lost = true
		w("- **%s**: measured %s, %s.", t.name, t.measured, t.gap)
		if p := rep.profile(t.profile); p != nil {
			w(" CPU profile of %s: %s. Time by function: %s. Time by wasmcas function, including the library code and system calls it makes: %s.",
				p.command, profileHeader(p.top), topFunctions(p.top, 3), topFunctions(p.own, 4))
			if p.allocs != "" {
				w(" Bytes allocated by wasmcas function, including the library code it calls: %s.", topFunctions(p.allocs, 4))
			}
		}
		w("\n")
	}
	for _, d := range rep.split {
		if r := ratio(d.wasmcas, d.anchor); r > 1 {
			lost = true
			w("- **split, %s**: %.2f× the time of sha256sum and cp (no target).", d.in.name, r)
			if p := rep.profile("split-js-hello-v2"); p != nil && d.in.name == "js-hello-v2" {
				w(" CPU profile: %s. Time by function: %s. Time by wasmcas function: %s.", profileHeader(p.top), topFunctions(p.top, 3), topFunctions(p.own, 4))
			}
			w("\n")
		}
	}
	if !lost {
		w("Every target is met on this run.\n")
	}
	w("\n### CPU profiles\n\n")
	w("Each profile runs the measured command line in the harness process through `cli.Run` (the code path of the wasmcas binary) under `runtime/pprof`, several iterations merged, and lists `go tool pprof -top -nodecount=12`. \"Total samples\" over \"Duration\" is the share of wall time spent on a CPU; the rest is waiting for the registry, the disk or other processes.\n\n")
	for _, p := range rep.profiles {
		w("#### %s\n\nBy flat time:\n\n```\n%s\n```\n\nOnly the functions of wasmcas's internal packages shown, so that the flat time of each includes the library code and system calls it makes:\n\n```\n%s\n```\n\n", p.command, p.top, p.own)
		if p.allocs != "" {
			w("Bytes allocated (`-sample_index=alloc_space`), wasmcas functions only:\n\n```\n%s\n```\n\n", p.allocs)
		}
	}
	w("## Go benchmarks\n\n")
	w("The reader benchmarks are `BenchmarkParse` and `BenchmarkUnits` (internal/wasmbin/corpus_test.go); `BenchmarkBuild` (digest), `BenchmarkSplit` (NewPlan and Push into an OCI layout in a temporary folder) and `BenchmarkSplice` (from a layout) are in internal/split/bench_test.go. They skip when `WASMCAS_CORPUS` is unset.\n\n")
	w("```\n%s\n```\n", rep.goBench)
	return os.WriteFile(cfg.out, []byte(b.String()), 0o644)
}

func timeTable(b *strings.Builder, rows []digestRow, a, anchor string) {
	fmt.Fprintf(b, "| input | size | %s | %s (anchor) | ratio | throughput %s / anchor |\n|---|---:|---:|---:|---:|---:|\n", a, anchor, a)
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %.2f× | %s / %s |\n", r.in.name, humanBytes(r.in.size), fmtRange(r.wasmcas), fmtRange(r.anchor),
			ratio(r.wasmcas, r.anchor), throughput(r.in.size, r.wasmcas), throughput(r.in.size, r.anchor))
	}
	b.WriteString("\n")
}

func throughput(size int64, s *stats) string {
	return fmt.Sprintf("%.0f MB/s", float64(size)/s.median.Seconds()/1e6)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
}

func yesNo(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// profileHeader returns pprof's "Duration: …, Total samples = …" line,
// which shows how much of the wall time was spent on a CPU.
func profileHeader(top string) string {
	for _, line := range strings.Split(top, "\n") {
		if strings.HasPrefix(line, "Duration:") {
			return strings.TrimSpace(line)
		}
	}
	return "no duration line"
}

func (rep *report) profile(name string) *profileResult {
	for i := range rep.profiles {
		if rep.profiles[i].name == name {
			return &rep.profiles[i]
		}
	}
	return nil
}

// topFunctions returns the first n rows of a pprof -top listing as
// "function (flat%)".
func topFunctions(top string, n int) string {
	var out []string
	inTable := false
	for _, line := range strings.Split(top, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[0] == "flat" {
			inTable = true
			continue
		}
		if !inTable || len(f) < 6 {
			continue
		}
		if f[1] == "0%" {
			continue
		}
		name := strings.TrimPrefix(strings.Join(f[5:], " "), "github.com/wasmcas/wasmcas/internal/")
		if i := strings.Index(name, "[go.shape"); i >= 0 {
			name = name[:i] + "[…]" + name[strings.LastIndex(name, "]")+1:]
		}
		out = append(out, fmt.Sprintf("`%s` %s", name, f[1]))
		if len(out) == n {
			break
		}
	}
	return strings.Join(out, ", ")
}
