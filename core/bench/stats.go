package bench

import (
	"math"
	"sort"
	"time"
)

// Latency summarises a sample of durations, in milliseconds.
type Latency struct {
	N      int     `json:"n"`
	MinMs  float64 `json:"minMs"`
	P50Ms  float64 `json:"p50Ms"`
	P90Ms  float64 `json:"p90Ms"`
	P99Ms  float64 `json:"p99Ms"`
	MaxMs  float64 `json:"maxMs"`
	MeanMs float64 `json:"meanMs"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// summarize sorts ds in place and computes nearest-rank percentiles.
func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Latency{
		N:      len(ds),
		MinMs:  round3(ms(ds[0])),
		P50Ms:  round3(ms(percentile(ds, 50))),
		P90Ms:  round3(ms(percentile(ds, 90))),
		P99Ms:  round3(ms(percentile(ds, 99))),
		MaxMs:  round3(ms(ds[len(ds)-1])),
		MeanMs: round3(ms(sum / time.Duration(len(ds)))),
	}
}

// percentile of a sorted sample (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return sorted[rank-1]
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func mib(b int64) float64 { return math.Round(float64(b)/(1<<20)*10) / 10 }
