package bench

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// maxSamples bounds the latency samples kept per RPC row.
const maxSamples = 4 << 20

func (r *runner) rpc(ctx context.Context, t *target) error {
	type level struct{ clients, depth int }
	var levels []level
	cs := append([]int(nil), r.opt.Clients...)
	sort.Ints(cs)
	for _, c := range cs {
		levels = append(levels, level{c, 1})
	}
	if r.opt.Pipeline > 1 {
		levels = append(levels, level{cs[0], r.opt.Pipeline})
		if last := cs[len(cs)-1]; last != cs[0] {
			levels = append(levels, level{last, r.opt.Pipeline})
		}
	}
	defer r.print((*Report).printRPC)
	for _, l := range levels {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		row, err := r.rpcRow(ctx, t, l.clients, l.depth)
		if err != nil {
			return fmt.Errorf("%d clients × %d in flight: %w", l.clients, l.depth, err)
		}
		r.rep.RPC = append(r.rep.RPC, row)
		r.progress("rpc %d×%d: %.0f req/s p50 %.3f ms p99 %.3f ms", l.clients, l.depth, row.ReqPerSec, row.Latency.P50Ms, row.Latency.P99Ms)
		// Let the gateway reap the closed connections before the next row.
		if err := sleepCtx(ctx, 300*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

type clientResult struct {
	lat    []time.Duration
	n      int64
	errs   int64
	events int64
	err    error
}

func (r *runner) rpcRow(ctx context.Context, t *target, clients, depth int) (RPCRow, error) {
	row := RPCRow{Clients: clients, Depth: depth, GatewayCPUPct: -1}
	conns, _, err := openConns(ctx, t.d, t.d.connectFrame(scopeRead), clients, r.opt.OpenParallel, time.Minute)
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	if len(conns) < clients {
		return row, fmt.Errorf("opened %d of %d connections: %v", len(conns), clients, err)
	}

	perClient := maxSamples / clients
	results := make([]clientResult, clients)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	t0 := time.Now()
	start := t0.Add(r.opt.Warmup)
	end := start.Add(r.opt.Duration)
	// Every client stops sending at end and drains what it has in flight;
	// this closes whatever is still blocked well after that.
	watchdog := time.AfterFunc(time.Until(end)+10*time.Second, func() {
		for _, c := range conns {
			c.close()
		}
	})
	defer watchdog.Stop()
	stopOnCancel := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			c.close()
		}
	})
	defer stopOnCancel()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			results[i] = runClient(c, depth, start, end, perClient)
		}()
	}
	close(gate)

	_ = sleepCtx(ctx, time.Until(start))
	g0, gerr := procCPU(t.pid)
	s0 := selfCPU()
	_ = sleepCtx(ctx, time.Until(end))
	g1, gerr1 := procCPU(t.pid)
	s1 := selfCPU()
	wg.Wait()
	if ctx.Err() != nil {
		return row, ctx.Err()
	}
	window := r.opt.Duration.Seconds()
	if t.pid > 0 && gerr == nil && gerr1 == nil {
		row.GatewayCPUPct = (g1 - g0).Seconds() / window * 100
	}
	row.BenchCPUPct = (s1 - s0).Seconds() / window * 100

	var lat []time.Duration
	var firstErr error
	for _, res := range results {
		row.Requests += res.n
		row.Errors += res.errs
		row.Events += res.events
		lat = append(lat, res.lat...)
		if res.err != nil && firstErr == nil {
			firstErr = res.err
		}
	}
	if firstErr != nil {
		return row, fmt.Errorf("client failed: %w", firstErr)
	}
	row.Seconds = window
	row.ReqPerSec = float64(row.Requests) / window
	row.Latency = summarize(lat)
	if row.Requests == 0 {
		return row, fmt.Errorf("no successful response in the measured window (%d errors)", row.Errors)
	}
	return row, nil
}

// runClient keeps depth health requests in flight on one connection until
// end, then waits for the outstanding ones. Responses received inside
// [start, end] are counted.
func runClient(c *conn, depth int, start, end time.Time, maxLat int) (res clientResult) {
	bg := context.Background() // no per-call timers; the watchdog closes the socket
	type slot struct {
		id   uint64
		sent time.Time
		used bool
	}
	slots := make([]slot, depth)
	res.lat = make([]time.Duration, 0, min(maxLat, 1<<16))
	var next uint64 = 100
	wbuf := make([]byte, 0, 96)
	send := func(k int) error {
		next++
		wbuf = appendReq(wbuf[:0], next, "health", nil)
		slots[k] = slot{id: next, sent: time.Now(), used: true}
		return c.ws.Write(bg, websocket.MessageText, wbuf)
	}
	outstanding := 0
	for k := range slots {
		if err := send(k); err != nil {
			res.err = err
			return
		}
		outstanding++
	}
	for iter := 0; outstanding > 0 && iter < 1<<31-1; iter++ {
		msg, err := c.read(bg)
		if err != nil {
			res.err = err
			return
		}
		idb, ok, isRes := classify(msg)
		if !isRes {
			res.events++
			continue
		}
		now := time.Now()
		id, good := parseUint(idb)
		if !good {
			continue
		}
		k := -1
		for j := range slots {
			if slots[j].used && slots[j].id == id {
				k = j
				break
			}
		}
		if k < 0 {
			continue
		}
		if !now.Before(start) && !now.After(end) {
			if ok {
				res.n++
				if len(res.lat) < maxLat {
					res.lat = append(res.lat, now.Sub(slots[k].sent))
				}
			} else {
				res.errs++
			}
		}
		slots[k].used = false
		outstanding--
		if now.Before(end) {
			if err := send(k); err != nil {
				res.err = err
				return
			}
			outstanding++
		}
	}
	return
}

func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		v = v*10 + uint64(ch-'0')
	}
	return v, true
}
