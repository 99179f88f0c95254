package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// fanTrial is one system-event whose presence broadcast the listeners
// wait for.
type fanTrial struct {
	num    uint64
	marker []byte
	want   int32
	got    atomic.Int32
	first  atomic.Int64 // ns since the run's base time; 0 = none yet
	last   atomic.Int64
	done   chan struct{}
}

var presencePrefix = []byte(`{"type":"event","event":"presence"`)

func isPresence(msg []byte) bool {
	if bytes.HasPrefix(msg, presencePrefix) {
		return true
	}
	return bytes.HasPrefix(msg, preEvent) && bytes.Contains(msg[:min(len(msg), 128)], presenceName)
}

// fanCheck is what every listener does with a message: for each frame
// that starts with {"type":"event" it checks that the event's seq is the
// listener's previous one + 1, and for a presence event carrying the
// current trial's marker it records the arrival time (once per trial per
// listener); the last listener closes the trial.
type fanCheck struct {
	cur     *atomic.Pointer[fanTrial]
	seqErrs *atomic.Int64
	since   func() int64
}

// listenState is one listener's part of the check.
type listenState struct {
	seq  int64  // last event seq seen
	seen uint64 // last trial counted
}

func (c *fanCheck) message(st *listenState, msg []byte) {
	if !bytes.HasPrefix(msg, preEvent) {
		return
	}
	if seq := eventSeq(msg); seq != 0 {
		if seq != st.seq+1 {
			c.seqErrs.Add(1)
		}
		st.seq = seq
	}
	if !isPresence(msg) {
		return
	}
	tr := c.cur.Load()
	if tr == nil || tr.num == st.seen || !bytes.Contains(msg, tr.marker) {
		return
	}
	st.seen = tr.num
	now := c.since()
	tr.first.CompareAndSwap(0, now)
	if tr.got.Add(1) == tr.want {
		tr.last.Store(now)
		close(tr.done)
	}
}

type adminRes struct {
	id  string
	ok  bool
	msg string
}

func (r *runner) fanout(ctx context.Context, t *target) error {
	defer r.print((*Report).printFanout)
	readFrame := t.d.connectFrame(scopeRead)
	adminFrame := t.d.connectFrame(scopeAdmin)
	admin, err := t.d.dial(ctxTimeout(ctx, 10*time.Second), adminFrame, false)
	if err != nil {
		return fmt.Errorf("admin connection: %w", err)
	}
	base := time.Now()
	since := func() int64 { return int64(time.Since(base)) }
	var cur atomic.Pointer[fanTrial]

	resCh := make(chan adminRes, 64)
	go func() {
		defer close(resCh)
		for {
			msg, err := admin.read(context.Background())
			if err != nil {
				return
			}
			id, ok, isRes := classify(msg)
			if !isRes {
				continue
			}
			ar := adminRes{id: string(id), ok: ok}
			if !ok {
				ar.msg = fmt.Sprintf("%.300s", msg)
			}
			select {
			case resCh <- ar:
			default: // nobody waiting for it any more
			}
		}
	}()

	var (
		listeners []*listener
		wg        sync.WaitGroup
		seqErrs   atomic.Int64
	)
	defer func() {
		admin.close()
		for _, c := range listeners {
			c.close()
		}
		wg.Wait()
	}()
	chk := &fanCheck{cur: &cur, seqErrs: &seqErrs, since: since}
	listen := func(l *listener) {
		defer wg.Done()
		var st listenState
		for {
			msg, err := l.next()
			if err != nil {
				return
			}
			chk.message(&st, msg)
		}
	}
	useEpoll := r.opt.Listener == ListenerEpoll && epollSupported && !strings.HasPrefix(t.d.url, "wss:")
	var ep *epollListeners
	if useEpoll {
		if ep, err = newEpollListeners(r.opt.ListenerThreads, chk); err != nil {
			return fmt.Errorf("epoll listeners: %w", err)
		}
		defer ep.close()
		r.rep.FanoutListener = fmt.Sprintf("epoll, %d thread(s)", r.opt.ListenerThreads)
	} else {
		r.rep.FanoutListener = ListenerGo
	}

	levels := append([]int(nil), r.opt.Listeners...)
	sort.Ints(levels)
	nonce := make([]byte, 4)
	_, _ = rand.Read(nonce)
	runTag := hex.EncodeToString(nonce)
	var trialNum uint64
	for _, n := range levels {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n > len(listeners) {
			more, failed, err := openMany(ctx, n-len(listeners), r.opt.OpenParallel, 3*time.Minute, func(ctx context.Context) (*listener, error) {
				return t.d.dialListener(ctx, readFrame)
			})
			for _, c := range more {
				if ep != nil {
					if err := ep.add(c); err != nil {
						return fmt.Errorf("handing a listener to epoll: %w", err)
					}
					continue
				}
				wg.Add(1)
				go listen(c)
			}
			listeners = append(listeners, more...)
			if len(listeners) < n {
				return fmt.Errorf("opened %d of %d listeners (%d failed): %v", len(listeners), n, failed, err)
			}
		}
		if err := sleepCtx(ctx, 300*time.Millisecond); err != nil {
			return err
		}
		trials := r.opt.FanoutTrials
		if n >= 5000 {
			trials = r.opt.FanoutTrialsXL
		}
		row := FanoutRow{Listeners: n, Trials: trials, GatewayCPUMs: -1}
		var lat, first []time.Duration
		seq0 := seqErrs.Load()
		g0, gerr0 := procCPU(t.pid)
		s0 := selfCPU()
		ran := 0
		for i := -1; i < trials && ctx.Err() == nil; i++ { // trial -1 warms up
			trialNum++
			ran++
			tr := &fanTrial{
				num:    trialNum,
				marker: []byte("pincer-bench " + runTag + " fan-out " + strconv.Itoa(n) + " #" + strconv.FormatUint(trialNum, 10)),
				want:   int32(len(listeners)),
				done:   make(chan struct{}),
			}
			// A fixed host keys the entry, so each trial replaces the
			// previous one and the presence payload stays the same size.
			params, _ := json.Marshal(map[string]string{"text": string(tr.marker), "host": "pincer-bench"})
			id := r.id()
			frame := appendReq(nil, id, "system-event", params)
			cur.Store(tr)
			sent := since()
			if err := admin.ws.Write(ctxTimeout(ctx, 10*time.Second), websocket.MessageText, frame); err != nil {
				return fmt.Errorf("sending system-event: %w", err)
			}
			timer := time.NewTimer(r.opt.FanoutTimeout)
			complete := false
			select {
			case <-tr.done:
				complete = true
			case <-timer.C:
			case <-ctx.Done():
			}
			timer.Stop()
			if err := waitRes(ctx, resCh, strconv.FormatUint(id, 10)); err != nil {
				return err
			}
			cur.Store(nil)
			if i >= 0 {
				if complete {
					lat = append(lat, time.Duration(tr.last.Load()-sent))
				} else {
					row.Incomplete++
					r.progress("fan-out %d trial %d: only %d of %d listeners got the event within %v", n, i, tr.got.Load(), tr.want, r.opt.FanoutTimeout)
				}
				if f := tr.first.Load(); f > 0 {
					first = append(first, time.Duration(f-sent))
				}
			}
			if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
				return err
			}
		}
		g1, gerr1 := procCPU(t.pid)
		if ran > 0 {
			if t.pid > 0 && gerr0 == nil && gerr1 == nil {
				row.GatewayCPUMs = round3(ms(g1-g0) / float64(ran))
			}
			row.BenchCPUMs = round3(ms(selfCPU()-s0) / float64(ran))
		}
		row.SeqErrors = int(seqErrs.Load() - seq0)
		row.Latency = summarize(lat)
		row.FirstMs = summarize(first).P50Ms
		r.rep.Fanout = append(r.rep.Fanout, row)
		r.progress("fan-out %d: p50 %.3f ms p99 %.3f ms max %.3f ms (%d incomplete, %d seq errors)", n, row.Latency.P50Ms, row.Latency.P99Ms, row.Latency.MaxMs, row.Incomplete, row.SeqErrors)
	}
	return nil
}

// waitRes waits for the admin connection's res with this id.
func waitRes(ctx context.Context, ch <-chan adminRes, id string) error {
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case ar, ok := <-ch:
			if !ok {
				return fmt.Errorf("admin connection closed")
			}
			if ar.id != id {
				continue
			}
			if !ar.ok {
				return fmt.Errorf("system-event refused: %s", ar.msg)
			}
			return nil
		case <-timer.C:
			return fmt.Errorf("no response to system-event %s", id)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
