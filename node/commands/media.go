package commands

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of snapshots
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	// maxBase64Bytes keeps media payloads under the protocol's 5 MB limit.
	maxBase64Bytes = 5_000_000
	// maxRawMediaBytes is the largest file that still encodes below it.
	maxRawMediaBytes = maxBase64Bytes / 4 * 3

	probeTimeout    = 10 * time.Second
	captureTimeout  = 30 * time.Second
	mediaStderrCap  = 32 << 10
	maxDelayMs      = 10_000
	maxDurationMs   = 60_000
	defaultClipMs   = 3_000
	defaultRecordMs = 10_000
	defaultSnapW    = 1600
	maxMediaWidth   = 8192
	clipMaxWidth    = 1280
	recordMaxWidth  = 1920
)

// mediaBackend drives ffmpeg for camera.* and screen.*.
type mediaBackend struct {
	r       *Registry
	ffmpeg  string
	libx264 bool
	display string // X11 display screen.* grab from; "" without one
}

// ffmpeg runs ffmpeg with args, bounded by timeout, ctx and Registry.Close.
// A failure carries ffmpeg's last stderr lines.
func (m *mediaBackend) run(ctx context.Context, timeout time.Duration, args ...string) error {
	ctx, stop := m.r.bind(ctx)
	defer stop()
	argv := append([]string{m.ffmpeg, "-hide_banner", "-nostdin"}, args...)
	pr := runProcess(ctx, procSpec{path: m.ffmpeg, argv: argv, timeout: timeout, maxOut: mediaStderrCap})
	switch {
	case pr.startErr != nil:
		return fmt.Errorf("start ffmpeg: %w", pr.startErr)
	case pr.timedOut:
		return fmt.Errorf("ffmpeg did not finish within %s", timeout)
	case pr.canceled:
		return fmt.Errorf("ffmpeg canceled: %w", context.Cause(ctx))
	case pr.exitCode == nil || *pr.exitCode != 0:
		return fmt.Errorf("ffmpeg failed (%s): %s", pr.state, lastLines(pr.stderr.String(), 3))
	}
	return nil
}

// output runs ffmpeg and returns what it printed on stdout and stderr,
// whatever its exit status (for -encoders and -list_formats).
func (m *mediaBackend) output(ctx context.Context, timeout time.Duration, args ...string) string {
	ctx, stop := m.r.bind(ctx)
	defer stop()
	argv := append([]string{m.ffmpeg, "-hide_banner", "-nostdin"}, args...)
	pr := runProcess(ctx, procSpec{path: m.ffmpeg, argv: argv, timeout: timeout, maxOut: 1 << 20})
	return pr.stdout.String() + pr.stderr.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.TrimSpace(strings.Join(lines, " | "))
	if out == "" {
		return "no diagnostics"
	}
	return out
}

// mediaErr wraps a backend failure into code, keeping timeouts as TIMEOUT.
func mediaErr(ctx context.Context, code, what string, err error) *Error {
	if ctx.Err() != nil {
		return newError(CodeTimeout, "%s: %v", what, err)
	}
	return newError(code, "%s: %v", what, err)
}

// scaleFilter limits the width to maxW (never upscaling) with even sides.
func scaleFilter(maxW int) string {
	return fmt.Sprintf("scale='trunc(min(iw,%d)/2)*2':-2", maxW)
}

// videoCodecArgs encodes H.264 when ffmpeg has libx264, else MPEG-4 part 2.
func (m *mediaBackend) videoCodecArgs(small bool) []string {
	if m.libx264 {
		crf := "28"
		if small {
			crf = "36"
		}
		return []string{"-c:v", "libx264", "-preset", "veryfast", "-crf", crf, "-pix_fmt", "yuv420p", "-movflags", "+faststart"}
	}
	q := "6"
	if small {
		q = "16"
	}
	return []string{"-c:v", "mpeg4", "-q:v", q, "-pix_fmt", "yuv420p", "-movflags", "+faststart"}
}

// stillImage is an encoded still.
type stillImage struct {
	data          []byte
	width, height int
}

func readImage(path string) (*stillImage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("ffmpeg wrote an unreadable image: %w", err)
	}
	return &stillImage{data: data, width: cfg.Width, height: cfg.Height}, nil
}

// captureStill grabs one frame with the given ffmpeg input args into a
// format ("jpg" or "png") image no wider than maxW (0 = native), halving
// the width until it fits the payload limit.
func (m *mediaBackend) captureStill(ctx context.Context, input []string, format string, maxW int, quality float64, code string) (*stillImage, error) {
	dir, err := os.MkdirTemp("", "pincer-node-media-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "still."+format)
	for attempt := 0; ; attempt++ {
		args := append(append([]string{"-loglevel", "error", "-y"}, input...), "-frames:v", "1", "-update", "1")
		if maxW > 0 {
			args = append(args, "-vf", scaleFilter(maxW))
		}
		if format == "png" {
			args = append(args, "-c:v", "png")
		} else {
			q := 2 + int((1-quality)*29+0.5)
			args = append(args, "-c:v", "mjpeg", "-q:v", fmt.Sprint(q))
		}
		args = append(args, "-f", "image2", out)
		if err := m.run(ctx, captureTimeout, args...); err != nil {
			return nil, mediaErr(ctx, code, "capture failed", err)
		}
		img, err := readImage(out)
		if err != nil {
			return nil, newError(code, "capture failed: %v", err)
		}
		if len(img.data) <= maxRawMediaBytes {
			return img, nil
		}
		if attempt >= 3 || img.width < 64 {
			return nil, newError(CodePayloadTooLarge, "%s image of %dx%d is %d bytes, over the %d-byte payload limit; lower maxWidth or quality", format, img.width, img.height, len(img.data), maxRawMediaBytes)
		}
		maxW = img.width / 2
		m.r.log.Info("media still over payload limit; retrying smaller", "bytes", len(img.data), "maxWidth", maxW)
	}
}

// captureVideo records with the given ffmpeg input args for d into an mp4
// no wider than maxW; a result over the payload limit is re-encoded once at
// half the width and lower quality, then refused.
func (m *mediaBackend) captureVideo(ctx context.Context, input []string, d time.Duration, maxW int, code string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "pincer-node-media-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "clip.mp4")
	args := append(append([]string{"-loglevel", "error", "-y"}, input...),
		"-t", fmt.Sprintf("%.3f", d.Seconds()), "-an", "-vf", scaleFilter(maxW))
	args = append(append(args, m.videoCodecArgs(false)...), "-f", "mp4", out)
	if err := m.run(ctx, d+captureTimeout, args...); err != nil {
		return nil, mediaErr(ctx, code, "recording failed", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, newError(code, "recording failed: %v", err)
	}
	if len(data) == 0 {
		return nil, newError(code, "recording failed: ffmpeg wrote an empty file")
	}
	if len(data) <= maxRawMediaBytes {
		return data, nil
	}
	small := filepath.Join(dir, "small.mp4")
	args = []string{"-loglevel", "error", "-y", "-i", out, "-an", "-vf", scaleFilter(max(maxW/2, 64))}
	args = append(append(args, m.videoCodecArgs(true)...), "-f", "mp4", small)
	if err := m.run(ctx, d+captureTimeout, args...); err != nil {
		return nil, mediaErr(ctx, code, "re-encoding an oversized recording failed", err)
	}
	if data, err = os.ReadFile(small); err != nil {
		return nil, newError(code, "re-encoding an oversized recording failed: %v", err)
	}
	if len(data) > maxRawMediaBytes {
		return nil, newError(CodePayloadTooLarge, "recording is %d bytes even re-encoded, over the %d-byte payload limit; use a shorter durationMs", len(data), maxRawMediaBytes)
	}
	return data, nil
}

func b64(data []byte) string { return base64.StdEncoding.EncodeToString(data) }

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// findFFmpeg resolves the configured or PATH ffmpeg.
func findFFmpeg(cfg Config) (string, error) {
	if cfg.FFmpegPath != "" {
		return exec.LookPath(cfg.FFmpegPath)
	}
	return exec.LookPath("ffmpeg")
}

// addMedia probes ffmpeg, cameras and the X display, and registers camera.*
// and screen.* where they work.
func (r *Registry) addMedia(ctx context.Context) {
	path, err := findFFmpeg(r.cfg)
	if err != nil {
		r.log.Info("camera and screen unavailable: no ffmpeg", "err", err)
		return
	}
	if abs, aerr := filepath.Abs(path); aerr == nil {
		path = abs
	}
	m := &mediaBackend{r: r, ffmpeg: path}
	r.media = m
	m.libx264 = strings.Contains(m.output(ctx, probeTimeout, "-encoders"), "libx264")

	if cams := m.scanCameras(ctx); len(cams) > 0 {
		r.add(true,
			Command{Name: "camera.list", Cap: "camera", Handler: m.cameraList},
			Command{Name: "camera.snap", Cap: "camera", Handler: m.cameraSnap},
			Command{Name: "camera.clip", Cap: "camera", Handler: m.cameraClip},
		)
	} else {
		r.log.Info("camera unavailable: no video device that ffmpeg can open")
	}

	if display := os.Getenv("DISPLAY"); display != "" {
		err := m.run(ctx, probeTimeout, "-loglevel", "error", "-f", "x11grab", "-i", display, "-frames:v", "1", "-f", "null", "-")
		if err == nil {
			m.display = display
			r.add(true,
				Command{Name: "screen.snapshot", Cap: "screen", Handler: m.screenSnapshot},
				Command{Name: "screen.record", Cap: "screen", Handler: m.screenRecord},
			)
		} else {
			r.log.Info("screen unavailable: ffmpeg cannot grab the X display", "display", display, "err", err)
		}
	} else {
		r.log.Info("screen unavailable: DISPLAY is not set")
	}
}
