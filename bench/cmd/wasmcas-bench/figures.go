package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	fastcdc "github.com/jotfs/fastcdc-go"
)

type digestRow struct {
	in              *input
	wasmcas, anchor *stats
}

func figureDigest(cfg *config, r *runner, rep *report) error {
	// Process start-up alone, which dominates on small files.
	st, err := r.compare("start-up", cfg.runs, !cfg.quick, false,
		&command{label: "wasmcas version", argv: func(int) []string { return []string{cfg.wasmcas, "version"} }},
		&command{label: "sha256sum --version", argv: func(int) []string { return []string{"sha256sum", "--version"} }},
	)
	if err != nil {
		return err
	}
	rep.startup = st
	for _, in := range rep.timed {
		runs, warm := runsFor(cfg, rep, in)
		st, err := r.compare("digest "+in.name, runs, warm, false,
			&command{label: "wasmcas digest", argv: func(int) []string { return []string{cfg.wasmcas, "digest", in.path} }},
			&command{label: "sha256sum", argv: func(int) []string { return []string{"sha256sum", in.path} }},
		)
		if err != nil {
			return err
		}
		rep.digest = append(rep.digest, digestRow{in, st[0], st[1]})
	}
	return nil
}

// runsFor returns the run count and whether to warm up for an input: the
// synthetic file gets bigRuns and no warm-up round, because it was just
// written and is in the page cache.
func runsFor(cfg *config, rep *report, in *input) (int, bool) {
	if in == rep.big {
		return cfg.bigRuns, false
	}
	return cfg.runs, !cfg.quick
}

func figureSplit(cfg *config, r *runner, rep *report) error {
	for _, in := range rep.timed {
		runs, warm := runsFor(cfg, rep, in)
		splitDir := filepath.Join(cfg.tmp, "split-layout")
		copyDir := filepath.Join(cfg.tmp, "split-copy")
		st, err := r.compare("split "+in.name, runs, warm, false,
			&command{
				label: "wasmcas split",
				setup: func(int) error { return os.RemoveAll(splitDir) },
				argv:  func(int) []string { return []string{cfg.wasmcas, "split", in.path, "-o", splitDir} },
			},
			&command{
				label: "sha256sum && cp",
				setup: func(int) error {
					if err := os.RemoveAll(copyDir); err != nil {
						return err
					}
					return os.MkdirAll(copyDir, 0o755)
				},
				argv: func(int) []string {
					return []string{"sh", "-c", `sha256sum "$1" && cp "$1" "$2/"`, "sh", in.path, copyDir}
				},
			},
		)
		if err != nil {
			return err
		}
		os.RemoveAll(splitDir)
		os.RemoveAll(copyDir)
		rep.split = append(rep.split, digestRow{in, st[0], st[1]})
	}
	return nil
}

type publishResult struct {
	Size          int64 `json:"size"`
	Bytes         int64 `json:"bytes"`
	BytesUploaded int64 `json:"bytes_uploaded"`
}

type publishRow struct {
	pair          *pair
	wasmcas, oras *stats
	bytesUploaded []int64
}

func orasPush(cfg *config, in *input, ref string) []string {
	return []string{cfg.oras, "push", "--plain-http", "--no-tty", ref, filepath.Base(in.path) + ":application/wasm"}
}

func figurePublish(cfg *config, r *runner, rep *report, reg *registry) error {
	for _, p := range rep.pairs {
		row := publishRow{pair: p}
		wrepo := func(run int) string { return fmt.Sprintf("publish/wasmcas-%s-%d", p.name, run+1) }
		orepo := func(run int) string { return fmt.Sprintf("publish/oras-%s-%d", p.name, run+1) }
		cmds := []*command{{
			label: "wasmcas publish v2",
			setup: func(run int) error {
				_, err := execQuiet(r.env, "", cfg.wasmcas, "publish", p.v1.path, reg.ref(wrepo(run), "v1"), "--progress=never")
				return err
			},
			argv: func(run int) []string {
				return []string{cfg.wasmcas, "publish", p.v2.path, reg.ref(wrepo(run), "v2"), "--json", "--progress=never"}
			},
			after: func(run int, stdout []byte) error {
				var res publishResult
				if err := decodeJSON(stdout, &res); err != nil {
					return err
				}
				row.bytesUploaded = append(row.bytesUploaded, res.BytesUploaded)
				return nil
			},
		}}
		if cfg.oras != "" {
			cmds = append(cmds, &command{
				label: "oras push v2",
				dir:   filepath.Dir(p.v2.path),
				setup: func(run int) error {
					_, err := execQuiet(r.env, filepath.Dir(p.v1.path), orasPush(cfg, p.v1, reg.ref(orepo(run), "v1"))...)
					return err
				},
				argv: func(run int) []string { return orasPush(cfg, p.v2, reg.ref(orepo(run), "v2")) },
			})
		}
		st, err := r.compare("publish "+p.name, cfg.runs, !cfg.quick, false, cmds...)
		if err != nil {
			return err
		}
		row.wasmcas = st[0]
		if len(st) > 1 {
			row.oras = st[1]
		}
		rep.publish = append(rep.publish, row)
	}
	if cfg.oras == "" {
		cfg.notes = append(cfg.notes, "oras is not installed, so the oras columns of figures 4, 5 and 6 are empty.")
	}
	return nil
}

type bytesRow struct {
	pair        *pair
	diffNew     int64
	published   int64
	cdc8, cdc64 int64
	xdelta      int64 // -1 when xdelta3 is missing
}

func figureBytes(cfg *config, r *runner, rep *report) error {
	for i, p := range rep.pairs {
		row := bytesRow{pair: p, xdelta: -1}
		out, err := execQuiet(r.env, "", cfg.wasmcas, "diff", p.v1.path, p.v2.path, "--json")
		if err != nil {
			return err
		}
		var d struct {
			NewBytes int64 `json:"new_bytes"`
		}
		if err := decodeJSON(out, &d); err != nil {
			return err
		}
		row.diffNew = d.NewBytes
		up := rep.publish[i].bytesUploaded
		row.published = up[0]
		for _, b := range up {
			if b != up[0] {
				return fmt.Errorf("publish %s uploaded %d bytes in one run and %d in another", p.name, up[0], b)
			}
		}
		if row.cdc8, err = cdcNewBytes(p.v1.path, p.v2.path, 8<<10); err != nil {
			return err
		}
		if row.cdc64, err = cdcNewBytes(p.v1.path, p.v2.path, 64<<10); err != nil {
			return err
		}
		if cfg.xdelta3 != "" {
			delta := filepath.Join(cfg.tmp, "delta.xd3")
			if _, err := execQuiet(r.env, "", cfg.xdelta3, "-e", "-f", "-s", p.v1.path, p.v2.path, delta); err != nil {
				return err
			}
			st, err := os.Stat(delta)
			if err != nil {
				return err
			}
			row.xdelta = st.Size()
			os.Remove(delta)
		}
		rep.bytes = append(rep.bytes, row)
	}
	if cfg.xdelta3 == "" {
		cfg.notes = append(cfg.notes, "xdelta3 is not installed, so figure 3 has no delta column.")
	}
	return nil
}

// cdcNewBytes chunks both files with FastCDC at the given average chunk
// size (minimum avg/4, maximum avg*4) and returns the bytes of v2's chunks
// whose SHA-256 is not among v1's chunks.
func cdcNewBytes(v1, v2 string, avg int) (int64, error) {
	seen := map[[32]byte]bool{}
	if err := chunkFile(v1, avg, func(c []byte) { seen[sha256Sum(c)] = true }); err != nil {
		return 0, err
	}
	var n int64
	sent := map[[32]byte]bool{}
	err := chunkFile(v2, avg, func(c []byte) {
		h := sha256Sum(c)
		if !seen[h] && !sent[h] {
			sent[h] = true
			n += int64(len(c))
		}
	})
	return n, err
}

func chunkFile(path string, avg int, fn func([]byte)) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	ch, err := fastcdc.NewChunker(bytes.NewReader(data), fastcdc.Options{MinSize: avg / 4, AverageSize: avg, MaxSize: avg * 4})
	if err != nil {
		return err
	}
	for {
		c, err := ch.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		fn(c.Data)
	}
}

type fetchResult struct {
	Size            int64 `json:"size"`
	BytesDownloaded int64 `json:"bytes_downloaded"`
	BytesCached     int64 `json:"bytes_cached"`
}

type fetchRow struct {
	pair             *pair
	cold, warm, oras *stats
	coldBytes        int64
	warmBytes        int64
}

func figureFetch(cfg *config, r *runner, rep *report, reg *registry) error {
	for _, p := range rep.pairs {
		row := fetchRow{pair: p}
		wrepo := "fetch/wasmcas-" + p.name
		orepo := "fetch/oras-" + p.name
		for _, v := range []*input{p.v1, p.v2} {
			if _, err := execQuiet(r.env, "", cfg.wasmcas, "publish", v.path, reg.ref(wrepo, v.name), "--progress=never"); err != nil {
				return err
			}
		}
		if cfg.oras != "" {
			if _, err := execQuiet(r.env, filepath.Dir(p.v2.path), orasPush(cfg, p.v2, reg.ref(orepo, "v2"))...); err != nil {
				return err
			}
		}
		cache := filepath.Join(cfg.tmp, "fetch-cache")
		outFile := filepath.Join(cfg.tmp, "fetch-out.wasm")
		orasDir := filepath.Join(cfg.tmp, "oras-pull")
		fetch := func(v *input) []string {
			return []string{cfg.wasmcas, "fetch", reg.ref(wrepo, v.name), "-o", outFile, "--cache-dir", cache, "--json", "--progress=never"}
		}
		check := func(into *int64) func(int, []byte) error {
			return func(_ int, stdout []byte) error {
				var res fetchResult
				if err := decodeJSON(stdout, &res); err != nil {
					return err
				}
				*into = res.BytesDownloaded
				return sameFile(outFile, p.v2)
			}
		}
		cmds := []*command{
			{
				label: "wasmcas fetch, cold",
				setup: func(int) error { return os.RemoveAll(cache) },
				argv:  func(int) []string { return fetch(p.v2) },
				after: check(&row.coldBytes),
			},
			{
				label: "wasmcas fetch, warm",
				setup: func(int) error {
					if err := os.RemoveAll(cache); err != nil {
						return err
					}
					_, err := execQuiet(r.env, "", fetch(p.v1)...)
					return err
				},
				argv:  func(int) []string { return fetch(p.v2) },
				after: check(&row.warmBytes),
			},
		}
		if cfg.oras != "" {
			cmds = append(cmds, &command{
				label: "oras pull",
				setup: func(int) error { return os.RemoveAll(orasDir) },
				argv: func(int) []string {
					return []string{cfg.oras, "pull", "--plain-http", "--no-tty", reg.ref(orepo, "v2"), "-o", orasDir}
				},
				after: func(int, []byte) error { return sameFile(filepath.Join(orasDir, filepath.Base(p.v2.path)), p.v2) },
			})
		}
		st, err := r.compare("fetch "+p.name, cfg.runs, !cfg.quick, false, cmds...)
		if err != nil {
			return err
		}
		row.cold, row.warm = st[0], st[1]
		if len(st) > 2 {
			row.oras = st[2]
		}
		os.RemoveAll(cache)
		os.RemoveAll(orasDir)
		os.Remove(outFile)
		rep.fetch = append(rep.fetch, row)
	}
	return nil
}

// sameFile checks that path has the size and SHA-256 of in.
func sameFile(path string, in *input) error {
	got, err := newInput(in.name, path)
	if err != nil {
		return err
	}
	if got.size != in.size || got.sha256 != in.sha256 {
		return fmt.Errorf("%s has %d bytes with sha256 %s, expected %d bytes with %s", path, got.size, got.sha256, in.size, in.sha256)
	}
	return nil
}

type memoryRow struct {
	label string
	st    *stats
}

func figureMemory(cfg *config, r *runner, rep *report, reg *registry) error {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		cfg.notes = append(cfg.notes, "/usr/bin/time is missing (Debian package time), so figure 6 is skipped.")
		return nil
	}
	big := rep.big
	if _, err := execQuiet(r.env, "", cfg.wasmcas, "publish", big.path, reg.ref("memory/wasmcas", "1"), "--progress=never"); err != nil {
		return err
	}
	if cfg.oras != "" {
		if _, err := execQuiet(r.env, filepath.Dir(big.path), orasPush(cfg, big, reg.ref("memory/oras", "1"))...); err != nil {
			return err
		}
	}
	layout := filepath.Join(cfg.tmp, "memory-layout")
	cache := filepath.Join(cfg.tmp, "memory-cache")
	outFile := filepath.Join(cfg.tmp, "memory-out.wasm")
	orasDir := filepath.Join(cfg.tmp, "memory-oras-pull")
	clean := func() {
		os.RemoveAll(layout)
		os.RemoveAll(cache)
		os.Remove(outFile)
		os.RemoveAll(orasDir)
	}
	// Each command removes what the previous one wrote, so that at most one
	// extra copy of the file is on disk at a time.
	cmds := []*command{
		{
			label: "wasmcas split",
			setup: func(int) error { clean(); return nil },
			argv:  func(int) []string { return []string{cfg.wasmcas, "split", big.path, "-o", layout} },
		},
		{
			label: "wasmcas publish (new repository)",
			setup: func(int) error { clean(); return nil },
			argv: func(run int) []string {
				return []string{cfg.wasmcas, "publish", big.path, reg.ref(fmt.Sprintf("memory/wasmcas-%d", run+1), "1"), "--progress=never"}
			},
		},
		{
			label: "wasmcas fetch, cold",
			setup: func(int) error { clean(); return nil },
			argv: func(int) []string {
				return []string{cfg.wasmcas, "fetch", reg.ref("memory/wasmcas", "1"), "-o", outFile, "--cache-dir", cache, "--progress=never"}
			},
		},
	}
	if cfg.oras != "" {
		cmds = append(cmds,
			&command{
				label: "oras push (new repository)",
				dir:   filepath.Dir(big.path),
				setup: func(int) error { clean(); return nil },
				argv: func(run int) []string {
					return orasPush(cfg, big, reg.ref(fmt.Sprintf("memory/oras-%d", run+1), "1"))
				},
			},
			&command{
				label: "oras pull",
				setup: func(int) error { clean(); return nil },
				argv: func(int) []string {
					return []string{cfg.oras, "pull", "--plain-http", "--no-tty", reg.ref("memory/oras", "1"), "-o", orasDir}
				},
			})
	}
	rep.bigRef = reg.ref("memory/wasmcas", "1")
	st, err := r.compare("memory "+big.name, cfg.bigRuns, false, true, cmds...)
	clean()
	if err != nil {
		return err
	}
	for _, s := range st {
		rep.memory = append(rep.memory, memoryRow{s.label, s})
	}
	return nil
}

type stripRow struct {
	in         *input
	debugBytes int64
	full       int64 // bytes_downloaded of a plain fetch
	stripped   int64 // bytes_downloaded with --strip-debug
	outSize    int64
}

type inspectNode struct {
	Sections []struct {
		Name  string       `json:"name"`
		Size  int64        `json:"size"`
		Child *inspectNode `json:"child"`
	} `json:"sections"`
}

func debugBytes(n *inspectNode) int64 {
	var sum int64
	for _, s := range n.Sections {
		if len(s.Name) > 7 && s.Name[:7] == ".debug_" {
			sum += s.Size
		}
		if s.Child != nil {
			sum += debugBytes(s.Child)
		}
	}
	return sum
}

func figureStripDebug(cfg *config, r *runner, rep *report, reg *registry) error {
	var files []string
	err := filepath.WalkDir(cfg.corpus, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "bad" {
			return filepath.SkipDir
		}
		if !d.IsDir() && filepath.Ext(path) == ".wasm" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, f := range files {
		out, err := execQuiet(r.env, "", cfg.wasmcas, "inspect", "--json", f)
		if err != nil {
			return err
		}
		var doc struct {
			Size int64        `json:"size"`
			Tree *inspectNode `json:"tree"`
		}
		if err := decodeJSON(out, &doc); err != nil {
			return err
		}
		dbg := debugBytes(doc.Tree)
		if doc.Size == 0 || float64(dbg) <= 0.9*float64(doc.Size) {
			continue
		}
		in, err := newInput(filepath.Base(f), f)
		if err != nil {
			return err
		}
		rep.strip = append(rep.strip, &stripRow{in: in, debugBytes: dbg})
	}
	if cfg.quick && len(rep.strip) > 2 {
		rep.strip = rep.strip[:2]
	}
	cache := filepath.Join(cfg.tmp, "strip-cache")
	outFile := filepath.Join(cfg.tmp, "strip-out.wasm")
	for i, row := range rep.strip {
		ref := reg.ref("strip/"+strconv.Itoa(i), "1")
		if _, err := execQuiet(r.env, "", cfg.wasmcas, "publish", row.in.path, ref, "--progress=never"); err != nil {
			return err
		}
		for _, strip := range []bool{false, true} {
			os.RemoveAll(cache)
			argv := []string{cfg.wasmcas, "fetch", ref, "-o", outFile, "--cache-dir", cache, "--json", "--progress=never"}
			if strip {
				argv = append(argv, "--strip-debug")
			}
			out, err := execQuiet(r.env, "", argv...)
			if err != nil {
				return err
			}
			var res fetchResult
			if err := decodeJSON(out, &res); err != nil {
				return err
			}
			if strip {
				row.stripped = res.BytesDownloaded
				row.outSize = res.Size
			} else {
				row.full = res.BytesDownloaded
			}
		}
	}
	os.RemoveAll(cache)
	os.Remove(outFile)
	return nil
}
