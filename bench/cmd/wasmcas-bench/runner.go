package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// command is one side of a comparison. setup runs before each timed run and
// is not timed; argv returns the command line of run i. Commands that need a
// shell pass "sh", "-c", script.
type command struct {
	label string
	setup func(run int) error
	argv  func(run int) []string
	dir   string // working directory, empty for the current one
	// after, when set, reads the standard output of run i (for --json
	// results).
	after func(run int, stdout []byte) error
}

// sample is the measurement of one run.
type sample struct {
	wall   time.Duration
	maxRSS int64 // bytes, from /usr/bin/time -v; 0 unless memory is measured
}

// stats summarises the runs of one command.
type stats struct {
	label         string
	wall          []time.Duration
	rss           []int64
	median        time.Duration
	minimum       time.Duration
	maximum       time.Duration
	rssMedian     int64
	rssMin        int64
	rssMax        int64
	stdoutExample string
}

type runner struct {
	env     []string
	tmp     string
	verbose bool
}

// compare runs the commands alternately, run by run (A B A B ...), after one
// untimed warm-up round when warmup is set, and returns their statistics in
// the order given.
func (r *runner) compare(name string, runs int, warmup, memory bool, cmds ...*command) ([]*stats, error) {
	out := make([]*stats, len(cmds))
	for i, c := range cmds {
		out[i] = &stats{label: c.label}
	}
	first := 0
	if warmup {
		first = -1
	}
	for run := first; run < runs; run++ {
		for i, c := range cmds {
			s, stdout, err := r.runOnce(c, run, memory)
			if err != nil {
				return nil, fmt.Errorf("%s: %s, run %d: %w", name, c.label, run, err)
			}
			if run < 0 {
				continue
			}
			if c.after != nil {
				if err := c.after(run, stdout); err != nil {
					return nil, fmt.Errorf("%s: %s, run %d: %w", name, c.label, run, err)
				}
			}
			out[i].wall = append(out[i].wall, s.wall)
			out[i].rss = append(out[i].rss, s.maxRSS)
			if out[i].stdoutExample == "" {
				out[i].stdoutExample = string(stdout)
			}
		}
	}
	for _, s := range out {
		s.finish()
	}
	if r.verbose {
		for _, s := range out {
			fmt.Fprintf(os.Stderr, "  %-50s median %8.3fs  min %8.3fs  max %8.3fs", name+": "+s.label, s.median.Seconds(), s.minimum.Seconds(), s.maximum.Seconds())
			if memory {
				fmt.Fprintf(os.Stderr, "  rss %s", mib(s.rssMedian))
			}
			fmt.Fprintln(os.Stderr)
		}
	}
	return out, nil
}

func (r *runner) runOnce(c *command, run int, memory bool) (sample, []byte, error) {
	if c.setup != nil {
		if err := c.setup(run); err != nil {
			return sample{}, nil, fmt.Errorf("setup: %w", err)
		}
	}
	argv := c.argv(run)
	timeFile := filepath.Join(r.tmp, "time-v.txt")
	if memory {
		argv = append([]string{"/usr/bin/time", "-v", "-o", timeFile}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = r.env
	cmd.Dir = c.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, nil, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, lastLines(stderr.String(), 5))
	}
	s := sample{wall: wall}
	if memory {
		rss, err := readMaxRSS(timeFile)
		if err != nil {
			return sample{}, nil, err
		}
		s.maxRSS = rss
	}
	return s, stdout.Bytes(), nil
}

// readMaxRSS reads "Maximum resident set size (kbytes)" from the output of
// GNU time -v and returns it in bytes.
func readMaxRSS(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "Maximum resident set size (kbytes):"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: invalid maximum resident set size %q", path, v)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("%s: no maximum resident set size in the output of /usr/bin/time -v", path)
}

func (s *stats) finish() {
	w := slices.Clone(s.wall)
	slices.Sort(w)
	s.minimum, s.maximum = w[0], w[len(w)-1]
	s.median = medianDuration(w)
	m := slices.Clone(s.rss)
	slices.Sort(m)
	s.rssMin, s.rssMax = m[0], m[len(m)-1]
	if len(m)%2 == 1 {
		s.rssMedian = m[len(m)/2]
	} else {
		s.rssMedian = (m[len(m)/2-1] + m[len(m)/2]) / 2
	}
}

func medianDuration(sorted []time.Duration) time.Duration {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// ratio returns a's median over b's median.
func ratio(a, b *stats) float64 {
	return a.median.Seconds() / b.median.Seconds()
}

func mib(b int64) string {
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// fmtDur prints a duration in seconds or milliseconds.
func fmtDur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// fmtRange prints "median (min–max)".
func fmtRange(s *stats) string {
	return fmt.Sprintf("%s (%s–%s)", fmtDur(s.median), fmtDur(s.minimum), fmtDur(s.maximum))
}

func fmtRSSRange(s *stats) string {
	return fmt.Sprintf("%s (%s–%s)", mib(s.rssMedian), mib(s.rssMin), mib(s.rssMax))
}
