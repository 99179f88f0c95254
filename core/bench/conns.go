package bench

import (
	"context"
	"fmt"
	"sort"
	"time"
)

func (r *runner) conns(ctx context.Context, t *target) error {
	res := &ConnsResult{Parallel: r.opt.OpenParallel}
	r.rep.Conns = res
	defer r.print((*Report).printConns)
	frame := t.d.connectFrame(scopeRead)
	if err := sleepCtx(ctx, r.opt.ConnsSettle); err != nil {
		return err
	}
	base, err := r.rss(ctx, t)
	if err != nil {
		return fmt.Errorf("reading the gateway's RSS: %w", err)
	}
	res.BaseRSSBytes = base

	var held []*conn
	defer func() {
		for _, c := range held {
			c.close()
		}
	}()
	levels := append([]int(nil), r.opt.Conns...)
	sort.Ints(levels)
	for _, n := range levels {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		row := ConnsRow{Conns: n}
		var openErr error
		if n > len(held) {
			t0 := time.Now()
			more, failed, err := openConns(ctx, t.d, frame, n-len(held), r.opt.OpenParallel, 5*time.Minute)
			row.OpenSeconds = time.Since(t0).Seconds()
			row.Failed = failed
			for _, c := range more {
				go drain(c.ws) // answers the gateway's pings, discards ticks
			}
			held = append(held, more...)
			if len(held) < n {
				openErr = fmt.Errorf("opened %d of %d connections (%d failed): %v", len(held), n, failed, err)
			}
		}
		row.Opened = len(held)
		r.progress("conns: holding %d", len(held))
		if err := sleepCtx(ctx, r.opt.ConnsSettle); err != nil {
			return err
		}
		rss, err := r.rss(ctx, t)
		if err != nil {
			return err
		}
		row.RSSBytes = rss
		if row.Opened > 0 {
			row.BytesPerConn = (rss - base) / int64(row.Opened)
		}
		// Heap figures before the health call, whose health broadcast to
		// every held connection allocates transiently.
		if s, err := r.status(ctx, t); err == nil {
			row.HeapUsedBytes, row.HeapTotalBytes, row.Goroutines = s.ProcessMemory.HeapUsedBytes, s.ProcessMemory.HeapTotalBytes, s.ProcessMemory.Goroutines
		}
		row.HealthMs, err = r.healthOnNewConn(ctx, t)
		row.HealthOK = err == nil
		if err != nil {
			r.note("conns %d: health on a new connection failed: %v", n, err)
		}
		res.Rows = append(res.Rows, row)
		r.progress("conns %d: RSS %.1f MiB, %d bytes/conn, health ok=%v", n, mib(rss), row.BytesPerConn, row.HealthOK)
		if openErr != nil {
			return openErr
		}
	}
	return nil
}

// healthOnNewConn connects and calls health; it returns the whole time.
func (r *runner) healthOnNewConn(ctx context.Context, t *target) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	t0 := time.Now()
	c, err := t.d.dial(ctx, t.d.connectFrame(scopeRead), false)
	if err != nil {
		return 0, err
	}
	defer c.close()
	if _, err := c.call(ctx, r.id(), "health", nil); err != nil {
		return 0, err
	}
	return round3(ms(time.Since(t0))), nil
}
