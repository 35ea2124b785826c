// Command peerratio reads the output of the peer benchmarks (BenchmarkMask,
// BenchmarkBroadcast) and prints, for each row, ours ÷ the best peer,
// paired by round.
//
// The shared machine's speed drifts over minutes, so a ratio of two
// medians taken minutes apart can be off by more than the difference it
// is meant to show. `make bench` therefore runs the peer benchmarks as
// rounds (`-count 1`, repeated): in round i every library runs each row
// once, close together. The i-th result of a benchmark belongs to round i;
// for each row and round this divides ours by the fastest peer of that
// round, and reports the median of those ratios and their range.
//
//	go run ./peerratio < ../bench-peers.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The metric compared for each benchmark: the CPU the server used per
// delivered message for broadcasts (wall time includes the clients), time
// per call for masking.
var metrics = map[string]string{
	"BenchmarkMask":      "ns/op",
	"BenchmarkBroadcast": "srv-ns/msg",
}

func main() {
	rows, order, err := parse(os.Stdin)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("row                                    ours÷best  (range over rounds)  rounds")
	// Masking is measured at 8 alignments per size; a size's summary is
	// the range of its alignments' medians.
	bySize := map[string][]float64{}
	var sizes []string
	for _, row := range order {
		ratios := pairedRatios(rows[row])
		if len(ratios) == 0 {
			continue
		}
		slices.Sort(ratios)
		fmt.Printf("%-38s %9.2f  (%.2f–%.2f)  %d\n", row, median(ratios), ratios[0], ratios[len(ratios)-1], len(ratios))
		if i := strings.Index(row, "/align="); i > 0 {
			if bySize[row[:i]] == nil {
				sizes = append(sizes, row[:i])
			}
			bySize[row[:i]] = append(bySize[row[:i]], median(ratios))
		}
	}
	for _, size := range sizes {
		m := bySize[size]
		fmt.Printf("%-38s %.2f–%.2f over %d alignments (medians)\n", size, slices.Min(m), slices.Max(m), len(m))
	}
}

// results holds one row's figures: per library, one value per round.
type results map[string][]float64

// parse reads benchmark lines such as
//
//	BenchmarkMask/gobwas/size=16/align=3-2  1000  7.9 ns/op  ...
//	BenchmarkBroadcast/conns=1000/gws-2  30  ...  7863 srv-ns/msg  ...
//
// and files each value under its row (the name without the library) and
// library. It returns the rows in the order they first appear.
func parse(r io.Reader) (map[string]results, []string, error) {
	rows := map[string]results{}
	var order []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		// Drop the -GOMAXPROCS suffix, then split off the library.
		name := fields[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		parts := strings.Split(name, "/")
		metric, ok := metrics[parts[0]]
		if !ok {
			continue
		}
		lib := -1
		for i, p := range parts {
			if p == "ours" || p == "gorilla" || p == "gobwas" || p == "gws" {
				lib = i
			}
		}
		if lib < 0 {
			continue
		}
		row := strings.Join(slices.Delete(slices.Clone(parts), lib, lib+1), "/")
		for i := 2; i+1 < len(fields); i++ {
			if fields[i+1] != metric {
				continue
			}
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %v", fields[0], err)
			}
			if rows[row] == nil {
				rows[row] = results{}
				order = append(order, row)
			}
			rows[row][parts[lib]] = append(rows[row][parts[lib]], v)
		}
	}
	return rows, order, sc.Err()
}

// pairedRatios divides ours by the best peer, round by round, over the
// rounds every library completed.
func pairedRatios(res results) []float64 {
	ours := res["ours"]
	var ratios []float64
	for round := range ours {
		best := 0.0
		for lib, values := range res {
			if lib == "ours" {
				continue
			}
			if round >= len(values) {
				return ratios
			}
			if best == 0 || values[round] < best {
				best = values[round]
			}
		}
		if best > 0 {
			ratios = append(ratios, ours[round]/best)
		}
	}
	return ratios
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
