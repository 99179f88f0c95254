package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// CodeCanvasEvalFailed reports a canvas.eval whose script threw (or whose
// result could not be returned).
const CodeCanvasEvalFailed = "CANVAS_EVAL_FAILED"

const (
	canvasStartTimeout    = 20 * time.Second
	canvasStopTimeout     = 10 * time.Second
	canvasNavTimeout      = 30 * time.Second
	canvasEvalTimeout     = 30 * time.Second
	canvasSnapshotTimeout = 20 * time.Second
	canvasCallTimeout     = 10 * time.Second
	canvasDefaultWidth    = 1280
	canvasDefaultHeight   = 720
	canvasMaxSide         = 8192
	canvasDefaultQuality  = 0.85
)

// canvasBinaries are the PATH names tried, in order, without
// Config.ChromiumPath.
var canvasBinaries = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// canvasProbed remembers Chromium binaries that started in this process, so
// that building several Registries (tests, reconnects) launches each binary
// for probing once.
var canvasProbed sync.Map // key: path + "\x00" + mtime → true

// canvasBackend drives one headless Chromium tab for canvas.*. The browser
// is started lazily by present (or navigate) and stopped by hide and by
// Registry.Close.
type canvasBackend struct {
	r    *Registry
	path string

	// sem serializes canvas commands: they all act on one tab.
	sem chan struct{}

	mu     sync.Mutex // guards sess and closed
	sess   *canvasSession
	closed bool
}

// canvasSession is one running browser with its tab.
type canvasSession struct {
	tab         context.Context
	tabCancel   context.CancelFunc
	allocCancel context.CancelFunc
	dir         string
	lost        <-chan struct{} // closed when the browser connection drops
	detached    <-chan struct{} // closed when the tab goes away
	stopOnce    sync.Once
}

// findChromium resolves Config.ChromiumPath, else the first Chromium-like
// binary on PATH.
func findChromium(cfg Config) (string, error) {
	if cfg.ChromiumPath != "" {
		return exec.LookPath(cfg.ChromiumPath)
	}
	var firstErr error
	for _, name := range canvasBinaries {
		p, err := exec.LookPath(name)
		if err == nil {
			return p, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return "", fmt.Errorf("none of %s found on PATH: %w", strings.Join(canvasBinaries, ", "), firstErr)
}

// addCanvas declares canvas.* when Chromium is found and starts. The probe
// browser is closed again at once.
func (r *Registry) addCanvas(ctx context.Context) {
	path, err := findChromium(r.cfg)
	if err != nil {
		r.log.Info("canvas unavailable: no Chromium", "err", err)
		return
	}
	if abs, aerr := filepath.Abs(path); aerr == nil {
		path = abs
	}
	b := &canvasBackend{r: r, path: path, sem: make(chan struct{}, 1)}
	key := path
	if fi, serr := os.Stat(path); serr == nil {
		key += "\x00" + fi.ModTime().String()
	}
	if _, ok := canvasProbed.Load(key); !ok {
		pctx, cancel := context.WithTimeout(ctx, canvasStartTimeout)
		s, err := b.start(pctx, canvasDefaultWidth, canvasDefaultHeight)
		cancel()
		if err != nil {
			r.log.Info("canvas unavailable: Chromium does not start", "chromium", path, "err", err)
			return
		}
		s.stop(r)
		canvasProbed.Store(key, true)
	}
	r.canvas = b
	r.onClose(b.close)
	r.add(true,
		Command{Name: "canvas.present", Cap: "canvas", Handler: b.present},
		Command{Name: "canvas.navigate", Cap: "canvas", Handler: b.navigate},
		Command{Name: "canvas.hide", Cap: "canvas", Handler: b.hide},
		Command{Name: "canvas.snapshot", Cap: "canvas", Handler: b.snapshot},
		Command{Name: "canvas.eval", Cap: "canvas", Handler: b.eval},
	)
}

// start launches a headless browser with a width×height viewport showing
// about:blank. It is bounded by ctx; the browser itself outlives ctx (until
// stop or Registry.Close).
func (b *canvasBackend) start(ctx context.Context, width, height int) (*canvasSession, error) {
	dir, err := os.MkdirTemp("", "pincer-canvas-*")
	if err != nil {
		return nil, err
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(b.path),
		chromedp.Flag("headless", "new"),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(width, height),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root with its sandbox (CI containers).
		opts = append(opts, chromedp.NoSandbox)
	} else {
		opts = append(opts, chromedp.Flag("no-sandbox", false))
	}
	log := b.r.log
	allocCtx, allocCancel := chromedp.NewExecAllocator(b.r.base, opts...)
	tab, tabCancel := chromedp.NewContext(allocCtx,
		chromedp.WithLogf(func(f string, a ...any) { log.Debug("chromium: " + fmt.Sprintf(f, a...)) }),
		chromedp.WithErrorf(func(f string, a ...any) { log.Debug("chromium error: " + fmt.Sprintf(f, a...)) }),
	)
	s := &canvasSession{tab: tab, tabCancel: tabCancel, allocCancel: allocCancel, dir: dir}

	// The first Run starts the browser, which lives as long as the context
	// of that call, so it gets the tab context itself; the wait for it is
	// what is bounded.
	done := make(chan error, 1)
	go func() {
		done <- chromedp.Do(tab, chromedp.EmulateViewport(int64(width), int64(height)))
	}()
	finished := false
	select {
	case err = <-done:
		finished = true
	case <-ctx.Done():
		err = fmt.Errorf("chromium did not start: %w", context.Cause(ctx))
	}
	if err == nil {
		if c := chromedp.FromContext(tab); c != nil && c.Browser != nil {
			s.lost = c.Browser.LostConnection
		}
		s.detached, err = chromedp.Detached(tab)
	}
	if err != nil {
		s.stop(b.r)
		if !finished {
			<-done // the killed browser ends the first Run
		}
		return nil, err
	}
	return s, nil
}

// dead reports whether the browser or its tab went away.
func (s *canvasSession) dead() bool {
	for _, ch := range []<-chan struct{}{s.lost, s.detached} {
		if ch == nil {
			continue
		}
		select {
		case <-ch:
			return true
		default:
		}
	}
	return false
}

// stop closes the browser (bounded) and removes its user-data-dir.
func (s *canvasSession) stop(r *Registry) {
	s.stopOnce.Do(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.tabCancel()
			s.allocCancel()
		}()
		select {
		case <-done:
		case <-time.After(canvasStopTimeout):
			r.log.Warn("canvas browser did not stop in time", "timeout", canvasStopTimeout)
		}
		if err := os.RemoveAll(s.dir); err != nil {
			r.log.Warn("canvas: removing the user data dir failed", "dir", s.dir, "err", err)
		}
	})
}

// close is Registry.Close's cleanup.
func (b *canvasBackend) close() error {
	b.mu.Lock()
	s := b.sess
	b.sess, b.closed = nil, true
	b.mu.Unlock()
	if s != nil {
		s.stop(b.r)
	}
	return nil
}

// lock takes the command semaphore, bounded by ctx.
func (b *canvasBackend) lock(ctx context.Context) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return newError(CodeCanvasUnavailable, "node commands are closed")
	}
	select {
	case b.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return newError(CodeTimeout, "canvas is busy with another command: %v", context.Cause(ctx))
		}
		return newError(CodeCanvasUnavailable, "canvas command canceled: %v", context.Cause(ctx))
	}
}

func (b *canvasBackend) unlock() { <-b.sem }

// current returns the live session, dropping (and stopping) a crashed one;
// crashed reports that it did.
func (b *canvasBackend) current() (s *canvasSession, crashed bool) {
	b.mu.Lock()
	s = b.sess
	if s != nil && s.dead() {
		b.sess = nil
		crashed = true
	}
	b.mu.Unlock()
	if crashed {
		b.r.log.Warn("canvas browser exited unexpectedly")
		s.stop(b.r)
		return nil, true
	}
	return s, false
}

// drop stops s if it is still the current session.
func (b *canvasBackend) drop(s *canvasSession) {
	b.mu.Lock()
	if b.sess == s {
		b.sess = nil
	}
	b.mu.Unlock()
	s.stop(b.r)
}

// ensure returns the live session, starting a browser when there is none.
func (b *canvasBackend) ensure(ctx context.Context, width, height int) (*canvasSession, bool, error) {
	if s, _ := b.current(); s != nil {
		return s, false, nil
	}
	sctx, cancel := context.WithTimeout(ctx, canvasStartTimeout)
	defer cancel()
	s, err := b.start(sctx, width, height)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, newError(CodeTimeout, "starting the canvas browser: %v", err)
		}
		return nil, false, newError(CodeCanvasUnavailable, "starting the canvas browser: %v", err)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.stop(b.r)
		return nil, false, newError(CodeCanvasUnavailable, "node commands are closed")
	}
	b.sess = s
	b.mu.Unlock()
	return s, true, nil
}

// need returns the live session or CANVAS_UNAVAILABLE.
func (b *canvasBackend) need() (*canvasSession, error) {
	s, crashed := b.current()
	if crashed {
		return nil, newError(CodeCanvasUnavailable, "canvas browser exited unexpectedly; present the canvas again")
	}
	if s == nil {
		return nil, newError(CodeCanvasUnavailable, "canvas is not presented")
	}
	return s, nil
}

// run runs a on s's tab, bounded by timeout and ctx, and maps failures:
// a dead browser is dropped and reported as CANVAS_UNAVAILABLE, a deadline
// as TIMEOUT, anything else as code.
func canvasRun[T any](ctx context.Context, b *canvasBackend, s *canvasSession, timeout time.Duration, code, what string, a chromedp.Action[T]) (T, error) {
	opCtx, cancel := context.WithTimeout(s.tab, timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	v, err := chromedp.Run(opCtx, a)
	if err == nil {
		return v, nil
	}
	var zero T
	if s.dead() {
		b.drop(s)
		return zero, newError(CodeCanvasUnavailable, "%s: canvas browser exited: %v", what, err)
	}
	var e *Error
	if errors.As(err, &e) {
		return zero, e
	}
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(cerr, context.DeadlineExceeded) {
			return zero, newError(CodeTimeout, "%s did not finish in time: %v", what, err)
		}
		return zero, newError(CodeCanvasUnavailable, "%s canceled: %v", what, context.Cause(ctx))
	}
	if errors.Is(opCtx.Err(), context.DeadlineExceeded) {
		return zero, newError(CodeTimeout, "%s did not finish within %s: %v", what, timeout, err)
	}
	return zero, newError(code, "%s: %v", what, err)
}

// canvasURL validates a URL canvas may open.
func canvasURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", invalid("url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", invalid("url is not a valid URL: %v", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return "", invalid("url %q has no host", raw)
		}
	case "file", "data", "about":
	case "":
		return "", invalid("url %q has no scheme (http, https, file, data or about)", raw)
	default:
		return "", invalid("url scheme %q is not allowed (http, https, file, data or about)", u.Scheme)
	}
	return raw, nil
}

type canvasPlacement struct {
	X      *float64 `json:"x"`
	Y      *float64 `json:"y"`
	Width  *float64 `json:"width"`
	Height *float64 `json:"height"`
}

// size validates the placement's width and height (x and y mean nothing to
// a headless browser and are only checked to be sane numbers).
func (p *canvasPlacement) size() (w, h int, set bool, err error) {
	if p == nil {
		return canvasDefaultWidth, canvasDefaultHeight, false, nil
	}
	for name, v := range map[string]*float64{"placement.x": p.X, "placement.y": p.Y} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			return 0, 0, false, invalid("%s must be a finite number", name)
		}
	}
	if w, err = intParam("placement.width", p.Width, canvasDefaultWidth, 1, canvasMaxSide); err != nil {
		return 0, 0, false, err
	}
	if h, err = intParam("placement.height", p.Height, canvasDefaultHeight, 1, canvasMaxSide); err != nil {
		return 0, 0, false, err
	}
	return w, h, p.Width != nil || p.Height != nil, nil
}

var canvasOK = map[string]any{"ok": true}

// present shows the canvas: it starts the browser when needed, sizes the
// viewport from placement and opens url (about:blank for a new canvas; an
// already presented canvas keeps its page when url is absent).
func (b *canvasBackend) present(ctx context.Context, params json.RawMessage) (any, error) {
	var p struct {
		URL       string           `json:"url"`
		Placement *canvasPlacement `json:"placement"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	w, h, sized, err := p.Placement.size()
	if err != nil {
		return nil, err
	}
	target := ""
	if strings.TrimSpace(p.URL) != "" {
		if target, err = canvasURL(p.URL); err != nil {
			return nil, err
		}
	}
	return b.show(ctx, target, w, h, sized)
}

// show opens the canvas (w×h; resized when sized and already open) and
// loads target, or about:blank for a fresh canvas without one.
func (b *canvasBackend) show(ctx context.Context, target string, w, h int, sized bool) (any, error) {
	ctx, stop := b.r.bind(ctx)
	defer stop()
	if err := b.lock(ctx); err != nil {
		return nil, err
	}
	defer b.unlock()
	s, fresh, err := b.ensure(ctx, w, h)
	if err != nil {
		return nil, err
	}
	if sized && !fresh {
		if _, err := canvasRun(ctx, b, s, canvasCallTimeout, CodeCanvasUnavailable, "resizing the canvas",
			chromedp.EmulateViewport(int64(w), int64(h))); err != nil {
			return nil, err
		}
	}
	if target == "" && fresh {
		target = "about:blank"
	}
	if target != "" {
		if _, err := canvasRun(ctx, b, s, canvasNavTimeout, CodeCanvasUnavailable, "opening "+shortURL(target),
			chromedp.Navigate(target)); err != nil {
			return nil, err
		}
	}
	return canvasOK, nil
}

// navigate opens url in the canvas, presenting it first when needed.
func (b *canvasBackend) navigate(ctx context.Context, params json.RawMessage) (any, error) {
	var p struct {
		URL string `json:"url"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	target, err := canvasURL(p.URL)
	if err != nil {
		return nil, err
	}
	return b.show(ctx, target, canvasDefaultWidth, canvasDefaultHeight, false)
}

// hide closes the browser; hiding a hidden canvas is not an error.
func (b *canvasBackend) hide(ctx context.Context, params json.RawMessage) (any, error) {
	var p struct{}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	ctx, stop := b.r.bind(ctx)
	defer stop()
	if err := b.lock(ctx); err != nil {
		return nil, err
	}
	defer b.unlock()
	b.mu.Lock()
	s := b.sess
	b.sess = nil
	b.mu.Unlock()
	if s != nil {
		s.stop(b.r)
	}
	return canvasOK, nil
}

// snapshot captures the canvas viewport.
func (b *canvasBackend) snapshot(ctx context.Context, params json.RawMessage) (any, error) {
	var p struct {
		Format   string   `json:"format"`
		MaxWidth *float64 `json:"maxWidth"`
		Quality  *float64 `json:"quality"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	format := strings.ToLower(p.Format)
	if format == "jpg" {
		format = "jpeg"
	}
	if err := oneOf("format", format, "png", "jpeg"); err != nil {
		return nil, err
	}
	if format == "" {
		format = "png"
	}
	maxW, err := intParam("maxWidth", p.MaxWidth, 0, 1, maxMediaWidth)
	if err != nil {
		return nil, err
	}
	quality, err := fracParam("quality", p.Quality, canvasDefaultQuality)
	if err != nil {
		return nil, err
	}
	ctx, stop := b.r.bind(ctx)
	defer stop()
	if err := b.lock(ctx); err != nil {
		return nil, err
	}
	defer b.unlock()
	s, err := b.need()
	if err != nil {
		return nil, err
	}
	metrics, err := canvasRun(ctx, b, s, canvasCallTimeout, CodeCanvasUnavailable, "reading the canvas size",
		func(ctx context.Context, t *chromedp.Target) (page.GetLayoutMetricsResult, error) {
			return cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
		})
	if err != nil {
		return nil, err
	}
	vv := metrics.CSSVisualViewport
	if vv == nil || vv.ClientWidth < 1 || vv.ClientHeight < 1 {
		return nil, newError(CodeCanvasUnavailable, "canvas has no visible viewport")
	}
	vw, vh := math.Floor(vv.ClientWidth), math.Floor(vv.ClientHeight)
	scale := 1.0
	if maxW > 0 && vw > float64(maxW) {
		scale = float64(maxW) / vw
	}
	shot := page.CaptureScreenshotParams{FromSurface: ptrTo(true)}
	if format == "jpeg" {
		shot.Format = page.CaptureScreenshotFormatJpeg
		shot.Quality = ptrTo(int64(math.Round(quality * 100)))
	} else {
		shot.Format = page.CaptureScreenshotFormatPng
	}
	for attempt := 0; ; attempt++ {
		shot.Clip = &page.Viewport{X: vv.PageX, Y: vv.PageY, Width: vw, Height: vh, Scale: scale}
		data, err := canvasRun(ctx, b, s, canvasSnapshotTimeout, CodeCanvasUnavailable, "capturing the canvas",
			func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
				res, err := cdp.Call(ctx, t, page.CaptureScreenshot, shot)
				return res.Data, err
			})
		if err != nil {
			return nil, err
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, newError(CodeCanvasUnavailable, "capturing the canvas: unreadable %s image: %v", format, err)
		}
		if len(data) <= maxRawMediaBytes {
			return map[string]any{"format": format, "base64": b64(data), "width": cfg.Width, "height": cfg.Height}, nil
		}
		if attempt >= 3 || cfg.Width < 64 {
			return nil, newError(CodePayloadTooLarge, "%s snapshot of %dx%d is %d bytes, over the %d-byte payload limit; lower maxWidth or quality", format, cfg.Width, cfg.Height, len(data), maxRawMediaBytes)
		}
		scale /= 2
		b.r.log.Info("canvas snapshot over payload limit; retrying smaller", "bytes", len(data), "width", cfg.Width/2)
	}
}

// eval runs javaScript in the canvas page (awaiting a returned promise) and
// returns its value as JSON: undefined becomes null, and values JSON cannot
// hold (NaN, Infinity, -0, bigint) their JavaScript spelling as a string.
func (b *canvasBackend) eval(ctx context.Context, params json.RawMessage) (any, error) {
	var p struct {
		JavaScript string `json:"javaScript"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if strings.TrimSpace(p.JavaScript) == "" {
		return nil, invalid("javaScript is required")
	}
	ctx, stop := b.r.bind(ctx)
	defer stop()
	if err := b.lock(ctx); err != nil {
		return nil, err
	}
	defer b.unlock()
	s, err := b.need()
	if err != nil {
		return nil, err
	}
	ro, err := canvasRun(ctx, b, s, canvasEvalTimeout, CodeCanvasEvalFailed, "eval",
		func(ctx context.Context, t *chromedp.Target) (*runtime.RemoteObject, error) {
			ro, err := chromedp.Evaluate[*runtime.RemoteObject](p.JavaScript,
				chromedp.EvalAsValue, chromedp.EvalAwaitPromise, chromedp.EvalIgnoreExceptions)(ctx, t)
			if err == nil {
				return ro, nil
			}
			var ee *chromedp.ExceptionError
			var pe *cdproto.Error
			switch {
			case errors.As(err, &ee):
				return nil, newError(CodeCanvasEvalFailed, "script threw: %s", exceptionText(ee.ExceptionDetails))
			case errors.As(err, &pe):
				return nil, newError(CodeCanvasEvalFailed, "script result cannot be returned: %s", pe.Message)
			}
			if ctx.Err() == context.DeadlineExceeded {
				// Stop a runaway script so the tab answers again.
				tctx, cancel := context.WithTimeout(s.tab, 2*time.Second)
				_, _ = cdp.Call(tctx, t, runtime.TerminateExecution, cdp.Empty{})
				cancel()
			}
			return nil, err
		})
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": remoteJSON(ro)}, nil
}

// remoteJSON renders a by-value RemoteObject as a JSON value.
func remoteJSON(ro *runtime.RemoteObject) json.RawMessage {
	if ro == nil {
		return json.RawMessage("null")
	}
	if ro.UnserializableValue != "" {
		b, _ := json.Marshal(string(ro.UnserializableValue))
		return b
	}
	if v := bytes.TrimSpace(ro.Value); len(v) > 0 && json.Valid(v) {
		return json.RawMessage(bytes.Clone(v))
	}
	return json.RawMessage("null")
}

// exceptionText is the first line of a thrown value's description.
func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "unknown exception"
	}
	msg := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		msg = d.Exception.Description
	} else if d.Exception != nil && len(d.Exception.Value) > 0 {
		msg = d.Text + " " + string(d.Exception.Value)
	}
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}

// shortURL abbreviates long (data:) URLs for error messages.
func shortURL(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

func ptrTo[T any](v T) *T { return &v }
