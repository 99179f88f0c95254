package canvas

import (
	"hash/fnv"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Live reload bounds.
const (
	pollInterval      = 500 * time.Millisecond
	maxReloadPerDir   = 32
	maxReloadTotal    = 256
	maxWatchedEntries = 10000
)

// reloader polls the directories pages listen on.
type reloader struct {
	log    *slog.Logger
	mu     sync.Mutex
	closed bool
	total  int
	dirs   map[string]*watch // by directory
}

// watch is one polled directory and its listeners.
type watch struct {
	dir  string
	subs map[*reloadSub]struct{}
	stop chan struct{}
}

type reloadSub struct {
	token string
	ch    chan struct{} // a reload is due (buffer 1)
	done  chan struct{} // closed when dropped
	once  sync.Once
}

func (s *reloadSub) drop() { s.once.Do(func() { close(s.done) }) }

func newReloader(log *slog.Logger) *reloader {
	return &reloader{log: log, dirs: map[string]*watch{}}
}

// subscribe adds a listener on dir, starting its poller.
func (rl *reloader) subscribe(dir, token string) (*reloadSub, bool) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if rl.closed || rl.total >= maxReloadTotal {
		return nil, false
	}
	w := rl.dirs[dir]
	if w != nil && len(w.subs) >= maxReloadPerDir {
		return nil, false
	}
	if w == nil {
		w = &watch{dir: dir, subs: map[*reloadSub]struct{}{}, stop: make(chan struct{})}
		rl.dirs[dir] = w
		go rl.poll(w)
	}
	s := &reloadSub{token: token, ch: make(chan struct{}, 1), done: make(chan struct{})}
	w.subs[s] = struct{}{}
	rl.total++
	return s, true
}

// unsubscribe removes a listener; the last one stops the poller.
func (rl *reloader) unsubscribe(dir string, s *reloadSub) {
	s.drop()
	rl.mu.Lock()
	defer rl.mu.Unlock()
	w := rl.dirs[dir]
	if w == nil {
		return
	}
	if _, ok := w.subs[s]; !ok {
		return
	}
	delete(w.subs, s)
	rl.total--
	if len(w.subs) == 0 {
		close(w.stop)
		delete(rl.dirs, dir)
	}
}

func (rl *reloader) dropTokens(set map[string]bool) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	for _, w := range rl.dirs {
		for s := range w.subs {
			if s.token != "" && set[s.token] {
				s.drop()
			}
		}
	}
}

func (rl *reloader) close() {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	rl.closed = true
	for _, w := range rl.dirs {
		for s := range w.subs {
			s.drop()
		}
	}
}

// poll signals the listeners whenever the directory's fingerprint changes.
func (rl *reloader) poll(w *watch) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	last := fingerprint(w.dir)
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		fp := fingerprint(w.dir)
		if fp == last {
			continue
		}
		last = fp
		rl.mu.Lock()
		for s := range w.subs {
			select {
			case s.ch <- struct{}{}:
			default:
			}
		}
		rl.mu.Unlock()
	}
}

// fingerprint hashes the names, sizes and mtimes under dir (symlinks are
// not followed; at most maxWatchedEntries entries).
func fingerprint(dir string) uint64 {
	h := fnv.New64a()
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if n++; n > maxWatchedEntries {
			return fs.SkipAll
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write(strconv.AppendInt(nil, fi.Size(), 10))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write(strconv.AppendInt(nil, fi.ModTime().UnixNano(), 10))
		_, _ = h.Write([]byte{0})
		return nil
	})
	return h.Sum64()
}

// serveReloadEvents streams "reload" events for ?agent=<id> or ?doc=<id>.
func (h *Host) serveReloadEvents(w http.ResponseWriter, r *http.Request, acc access) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed")
		return
	}
	st := h.settings()
	q := r.URL.Query()
	var dir string
	switch {
	case q.Get("agent") != "":
		id := q.Get("agent")
		if !h.agentKnown(id) {
			writeError(w, http.StatusNotFound, "not_found", "Unknown agent")
			return
		}
		dir = filepath.Join(st.root, id)
	case q.Get("doc") != "":
		id := q.Get("doc")
		if !validID(id) {
			writeError(w, http.StatusNotFound, "not_found", "Unknown document")
			return
		}
		dir = filepath.Join(st.root, documentsDir, id)
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "agent or doc query parameter required")
		return
	}
	sub, ok := h.reload.subscribe(dir, acc.token())
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "Too many live-reload listeners")
		return
	}
	defer h.reload.unsubscribe(dir, sub)
	sse, ok := startSSE(w, r)
	if !ok {
		return
	}
	_ = sse.comment("live reload")
	for {
		select {
		case <-sub.ch:
			if sse.event("reload", "{}") != nil {
				return
			}
		case <-sub.done:
			return
		case <-sse.tick:
			if !h.keepStreaming() || (sse.due() && sse.comment("ping") != nil) {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}
