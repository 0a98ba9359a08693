// Command report turns the raw results of bench/http/run.sh into the
// markdown tables of bench/README.md.
//
//	report results.tsv
//
// Each line of results.tsv is one measured window (tab-separated):
//
//	part round row target req/s p99-µs requests non-2xx socket-errors check
//
// part is "cache" or "service"; check is the origin work done during the
// window ("-" when it does not apply): requests that reached the origin
// behind a cache; warnings and errors the example service logged. For every row and
// target, report prints the median req/s over the rounds (with min and max),
// the median p99 and the median over rounds of the per-round ratio to each
// baseline, measured in the same round.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// window is one measured window.
type window struct {
	part, row, target string
	round             int
	rps, p99us        float64
	requests          int64
	non2xx, sockErr   int64
	check             int64 // -1: not applicable
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: report results.tsv")
		os.Exit(2)
	}
	ws, err := readFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	write(os.Stdout, ws)
}

func readFile(name string) ([]window, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ws []window
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if sc.Text() == "" || strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		w, err := parse(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		ws = append(ws, w)
	}
	return ws, sc.Err()
}

func parse(line string) (window, error) {
	f := strings.Split(line, "\t")
	if len(f) != 10 {
		return window{}, fmt.Errorf("%d fields, want 10", len(f))
	}
	w := window{part: f[0], row: f[2], target: f[3], check: -1}
	var errs []error
	num := func(s string) int64 {
		v, err := strconv.ParseInt(s, 10, 64)
		errs = append(errs, err)
		return v
	}
	real := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		errs = append(errs, err)
		return v
	}
	w.round = int(num(f[1]))
	w.rps, w.p99us = real(f[4]), real(f[5])
	w.requests, w.non2xx, w.sockErr = num(f[6]), num(f[7]), num(f[8])
	if f[9] != "-" {
		w.check = num(f[9])
	}
	return w, errors.Join(errs...)
}

// cacheTargets and serviceTargets are the column order; the first of each
// is the baseline every ratio is taken against (cache: also nginx, varnish).
var (
	cacheTargets = []string{"go", "cacheproxy", "cacheproxy+local", "nginx", "varnish"}
	cacheNames   = map[string]string{
		"go":               "Go net/http, in memory",
		"cacheproxy":       "examples/cacheproxy, Redis",
		"cacheproxy+local": "examples/cacheproxy, Redis + in-process tier",
		"nginx":            "nginx proxy_cache",
		"varnish":          "Varnish",
	}
)

func write(out io.Writer, ws []window) {
	for _, row := range rows(ws, "cache") {
		fmt.Fprintf(out, "\n%s (req/s: median of %d rounds, min–max; ×: median of the per-round ratios)\n\n", row, rounds(ws, "cache", row))
		fmt.Fprintln(out, "| target | req/s | p99 | × Go in-memory | × nginx | × Varnish | origin requests while measuring | errors |")
		fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|---:|")
		for _, t := range cacheTargets {
			sel := pick(ws, "cache", row, t)
			if len(sel) == 0 {
				continue
			}
			fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", cacheNames[t], rpsCell(sel), p99Cell(sel),
				ratioCell(ws, sel, "go"), ratioCell(ws, sel, "nginx"), ratioCell(ws, sel, "varnish"), checkCell(sel), errCell(sel))
		}
	}
	service := rows(ws, "service")
	if len(service) == 0 {
		return
	}
	fmt.Fprintf(out, "\n(req/s: median of %d rounds, min–max; service / bare: median of the per-round ratios)\n\n", rounds(ws, "service", service[0]))
	fmt.Fprintln(out, "| route | service req/s | bare req/s | service / bare | service p99 | bare p99 | failures logged while measuring | errors (service, bare) |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, row := range service {
		svc, bare := pick(ws, "service", row, "service"), pick(ws, "service", row, "bare")
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s | %s | %s, %s |\n", row, rpsCell(svc), rpsCell(bare),
			ratioCell(ws, svc, "bare"), p99Cell(svc), p99Cell(bare), checkCell(svc), errCell(svc), errCell(bare))
	}
}

// rows lists the rows of part in the order they first appear.
func rows(ws []window, part string) []string {
	var out []string
	for _, w := range ws {
		if w.part == part && !slices.Contains(out, w.row) {
			out = append(out, w.row)
		}
	}
	return out
}

func rounds(ws []window, part, row string) int {
	seen := map[int]bool{}
	for _, w := range ws {
		if w.part == part && w.row == row {
			seen[w.round] = true
		}
	}
	return len(seen)
}

func pick(ws []window, part, row, target string) []window {
	var out []window
	for _, w := range ws {
		if w.part == part && w.row == row && w.target == target {
			out = append(out, w)
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// values is f of every window of sel.
func values(sel []window, f func(window) float64) []float64 {
	v := make([]float64, len(sel))
	for i, w := range sel {
		v[i] = f(w)
	}
	return v
}

func rpsCell(sel []window) string {
	if len(sel) == 0 {
		return "–"
	}
	v := values(sel, func(w window) float64 { return w.rps })
	return fmt.Sprintf("%s (%s–%s)", thousands(median(v)), thousands(slices.Min(v)), thousands(slices.Max(v)))
}

func p99Cell(sel []window) string {
	if len(sel) == 0 {
		return "–"
	}
	m := median(values(sel, func(w window) float64 { return w.p99us }))
	if m >= 1000 {
		return fmt.Sprintf("%.2f ms", m/1000)
	}
	return fmt.Sprintf("%.0f µs", m)
}

// ratioCell is the median over rounds of sel's req/s divided by base's in
// the same round (same part and row).
func ratioCell(ws []window, sel []window, base string) string {
	var v []float64
	for _, w := range sel {
		for _, b := range pick(ws, w.part, w.row, base) {
			if b.round == w.round && b.rps > 0 {
				v = append(v, w.rps/b.rps)
			}
		}
	}
	if len(v) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2fx", median(v))
}

// checkCell sums the check column over the windows: origin requests behind
// a cache (every answer should be a hit: 0), failures the service logged.
func checkCell(sel []window) string {
	var sum int64
	for _, w := range sel {
		if w.check < 0 {
			return "–"
		}
		sum += w.check
	}
	return strconv.FormatInt(sum, 10)
}

// errCell sums the non-2xx answers and socket errors over the windows.
func errCell(sel []window) string {
	var sum int64
	for _, w := range sel {
		sum += w.non2xx + w.sockErr
	}
	return strconv.FormatInt(sum, 10)
}

// thousands formats v rounded to an integer with a comma every 3 digits.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
