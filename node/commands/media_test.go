//go:build unix

package commands

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func decodeB64(t *testing.T, out map[string]any) []byte {
	t.Helper()
	s, _ := out["base64"].(string)
	if s == "" {
		t.Fatalf("payload has no base64: %v", keysOf(out))
	}
	if len(s) >= maxBase64Bytes {
		t.Fatalf("base64 payload of %d bytes breaks the 5 MB limit", len(s))
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkImage(t *testing.T, out map[string]any, format string) image.Config {
	t.Helper()
	data := decodeB64(t, out)
	cfg, got, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("payload is not an image: %v", err)
	}
	if want := map[string]string{"jpg": "jpeg", "png": "png"}[format]; got != want || out["format"] != format {
		t.Fatalf("format %v, decoded %s, want %s", out["format"], got, format)
	}
	if out["width"] != float64(cfg.Width) || out["height"] != float64(cfg.Height) {
		t.Fatalf("payload says %vx%v, image is %dx%d", out["width"], out["height"], cfg.Width, cfg.Height)
	}
	return cfg
}

func checkMP4(t *testing.T, out map[string]any) {
	t.Helper()
	data := decodeB64(t, out)
	if len(data) < 12 || string(data[4:8]) != "ftyp" {
		t.Fatalf("payload is not an MP4 (starts %q)", data[:min(12, len(data))])
	}
	if out["format"] != "mp4" || out["hasAudio"] != false {
		t.Fatalf("payload = format %v hasAudio %v", out["format"], out["hasAudio"])
	}
}

// TestCameraReal exercises camera.* against a real V4L2 device.
func TestCameraReal(t *testing.T) {
	r := probe(t, Config{})
	if !hasCommand(r, "camera.list") {
		t.Skip("camera backend absent: needs ffmpeg and a /dev/video* capture device ffmpeg can open")
	}
	list := mustCall(t, r, "camera.list", nil)
	devs := list["devices"].([]any)
	if len(devs) == 0 {
		t.Fatal("camera declared but camera.list is empty")
	}
	dev := devs[0].(map[string]any)
	wantKeys(t, "camera", dev, "id", "name", "position", "deviceType")
	snap := mustCall(t, r, "camera.snap", map[string]any{"maxWidth": 320, "quality": 0.5, "format": "jpg", "deviceId": dev["id"]})
	if cfg := checkImage(t, snap, "jpg"); cfg.Width > 320 {
		t.Fatalf("snap width %d over maxWidth", cfg.Width)
	}
	clip := mustCall(t, r, "camera.clip", map[string]any{"durationMs": 1000, "format": "mp4", "includeAudio": false})
	checkMP4(t, clip)
	if clip["durationMs"] != 1000.0 {
		t.Fatalf("clip durationMs = %v", clip["durationMs"])
	}
}

// startXvfb gives the test an X display when it has none and Xvfb exists.
func startXvfb(t *testing.T) bool {
	t.Helper()
	if os.Getenv("DISPLAY") != "" {
		return true
	}
	xvfb, err := exec.LookPath("Xvfb")
	if err != nil {
		return false
	}
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	cmd := exec.Command(xvfb, "-displayfd", "3", "-screen", "0", "640x480x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{wr}
	if err := cmd.Start(); err != nil {
		wr.Close()
		t.Logf("Xvfb did not start: %v", err)
		return false
	}
	wr.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(rd).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	select {
	case n := <-lines:
		if n == "" {
			t.Log("Xvfb reported no display number")
			return false
		}
		t.Setenv("DISPLAY", ":"+n)
		return true
	case <-time.After(30 * time.Second):
		t.Log("Xvfb did not report a display within 30s")
		return false
	}
}

// TestScreenReal exercises screen.* with ffmpeg's x11grab, on DISPLAY or a
// private Xvfb.
func TestScreenReal(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("screen backend absent: no ffmpeg on PATH")
	}
	own := os.Getenv("DISPLAY") == ""
	if !startXvfb(t) {
		t.Skip("screen backend absent: DISPLAY is not set and Xvfb is not available")
	}
	r := probe(t, Config{})
	if !hasCommand(r, "screen.snapshot") {
		t.Skip("screen backend absent: ffmpeg cannot grab DISPLAY (no x11grab?)")
	}
	snap := mustCall(t, r, "screen.snapshot", nil)
	cfg := checkImage(t, snap, "png")
	if own && (cfg.Width != 640 || cfg.Height != 480) {
		t.Fatalf("Xvfb snapshot is %dx%d, want 640x480", cfg.Width, cfg.Height)
	}
	small := mustCall(t, r, "screen.snapshot", map[string]any{"format": "jpg", "maxWidth": 320, "screenIndex": 0})
	if cfg := checkImage(t, small, "jpg"); cfg.Width > 320 {
		t.Fatalf("jpg snapshot width %d over maxWidth", cfg.Width)
	}
	rec := mustCall(t, r, "screen.record", map[string]any{"durationMs": 1000, "fps": 5, "format": "mp4"})
	checkMP4(t, rec)
	if rec["durationMs"] != 1000.0 || rec["fps"] != 5.0 || rec["screenIndex"] != 0.0 {
		t.Fatalf("record payload = %v", rec)
	}

	wantErr(t, r, "screen.snapshot", map[string]any{"screenIndex": 1}, CodeInvalidRequest)
	wantErr(t, r, "screen.snapshot", map[string]any{"format": "gif"}, CodeInvalidRequest)
	wantErr(t, r, "screen.record", map[string]any{"durationMs": 60001}, CodeInvalidRequest)
	wantErr(t, r, "screen.record", map[string]any{"fps": 0}, CodeInvalidRequest)
	wantErr(t, r, "screen.record", map[string]any{"format": "webm"}, CodeInvalidRequest)
}

// fakeFFmpeg writes an ffmpeg stand-in that logs its argv to log, reports
// V4L2 formats for every device but video1, and writes the fixture matching
// the output file's extension ($FAKE_JPG or $FAKE_MP4).
func fakeFFmpeg(t *testing.T, dir, log string) string {
	t.Helper()
	script := `#!/bin/sh
echo "$*" >> ` + shQuote(log) + `
for a in "$@"; do last="$a"; done
case " $* " in
*" -encoders "*) echo " V....D libx264 H.264"; exit 0 ;;
*" -list_formats "*)
	case "$last" in *video1) echo "not a capture device" >&2; exit 1 ;; esac
	echo "[video4linux2,v4l2 @ 0x1] Raw       :     yuyv422 :  YUYV 4:2:2 : 640x480" >&2
	exit 1 ;;
esac
case "$last" in
*.jpg) cp "$FAKE_JPG" "$last" ;;
*.mp4) cp "$FAKE_MP4" "$last" ;;
*) exit 1 ;;
esac
`
	p := filepath.Join(dir, "ffmpeg")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func writeJPEG(t *testing.T, path string, w, h, padding int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, 0, color.RGBA{R: uint8(x), A: 255})
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	buf.Write(make([]byte, padding)) // trailing junk: DecodeConfig stops at the header
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCameraWithFakeFFmpeg drives camera.* through their ffmpeg plumbing
// with a stand-in ffmpeg and fake device nodes, for hosts without a camera.
func TestCameraWithFakeFFmpeg(t *testing.T) {
	dir := t.TempDir()
	devDir := filepath.Join(dir, "dev")
	if err := os.Mkdir(devDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"video0", "video1", "video10", "video2"} {
		if err := os.WriteFile(filepath.Join(devDir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	oldGlob, oldSys := videoDeviceGlob, v4lSysRoot
	videoDeviceGlob, v4lSysRoot = filepath.Join(devDir, "video*"), filepath.Join(dir, "sys")
	t.Cleanup(func() { videoDeviceGlob, v4lSysRoot = oldGlob, oldSys })
	writeSys(t, filepath.Join(dir, "sys", "video0"), map[string]string{"name": "Integrated Camera"})

	log := filepath.Join(dir, "argv.log")
	jpg, mp4 := filepath.Join(dir, "fixture.jpg"), filepath.Join(dir, "fixture.mp4")
	writeJPEG(t, jpg, 320, 240, 0)
	if err := os.WriteFile(mp4, []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_JPG", jpg)
	t.Setenv("FAKE_MP4", mp4)
	t.Setenv("DISPLAY", "")

	r := probe(t, Config{FFmpegPath: fakeFFmpeg(t, dir, log)})
	if !hasCommand(r, "camera.snap") || hasCommand(r, "screen.snapshot") {
		t.Fatalf("commands = %v", r.Commands())
	}
	list := mustCall(t, r, "camera.list", map[string]any{})
	var ids []string
	for _, d := range list["devices"].([]any) {
		dm := d.(map[string]any)
		wantKeys(t, "camera", dm, "id", "name", "position", "deviceType")
		if dm["position"] != "unspecified" || dm["deviceType"] != "external" {
			t.Fatalf("device = %v", dm)
		}
		ids = append(ids, dm["id"].(string))
	}
	want := []string{filepath.Join(devDir, "video0"), filepath.Join(devDir, "video2"), filepath.Join(devDir, "video10")}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("camera ids = %v, want %v (video1 is not a capture node)", ids, want)
	}
	if name := list["devices"].([]any)[0].(map[string]any)["name"]; name != "Integrated Camera" {
		t.Fatalf("video0 name = %v", name)
	}

	snap := mustCall(t, r, "camera.snap", map[string]any{"format": "jpg", "quality": 1, "deviceId": want[1], "facing": "front"})
	checkImage(t, snap, "jpg")
	if snap["width"] != 320.0 || snap["height"] != 240.0 {
		t.Fatalf("snap = %vx%v", snap["width"], snap["height"])
	}
	argv, _ := os.ReadFile(log)
	lastRun := lastNonEmptyLine(string(argv))
	for _, frag := range []string{"-f v4l2 -i " + want[1], "-frames:v 1", "scale='trunc(min(iw,1600)/2)*2':-2", "-q:v 2"} {
		if !strings.Contains(lastRun, frag) {
			t.Fatalf("snap argv %q lacks %q", lastRun, frag)
		}
	}

	clip := mustCall(t, r, "camera.clip", map[string]any{"durationMs": 1500, "format": "mp4"})
	checkMP4(t, clip)
	if clip["durationMs"] != 1500.0 {
		t.Fatalf("clip = %v", clip)
	}
	argv, _ = os.ReadFile(log)
	lastRun = lastNonEmptyLine(string(argv))
	for _, frag := range []string{"-f v4l2 -i " + want[0], "-t 1.500", "-c:v libx264", "-an"} {
		if !strings.Contains(lastRun, frag) {
			t.Fatalf("clip argv %q lacks %q", lastRun, frag)
		}
	}

	for _, p := range []map[string]any{
		{"deviceId": "/etc/passwd"},
		{"format": "png"},
		{"facing": "left"},
		{"quality": 1.5},
		{"maxWidth": -1},
		{"delayMs": 60_000},
	} {
		wantErr(t, r, "camera.snap", p, CodeInvalidRequest)
	}
	for _, p := range []map[string]any{{"durationMs": 60_001}, {"durationMs": 0}, {"format": "mov"}, {"includeAudio": "yes"}} {
		wantErr(t, r, "camera.clip", p, CodeInvalidRequest)
	}

	// A still that stays over the payload limit however small is refused.
	writeJPEG(t, jpg, 200, 100, maxRawMediaBytes+1)
	e := wantErr(t, r, "camera.snap", nil, CodePayloadTooLarge)
	if !strings.Contains(e.Message, "payload limit") {
		t.Fatalf("message = %q", e.Message)
	}
	// Oversized clips are re-encoded smaller once, then refused.
	big := append([]byte("\x00\x00\x00\x18ftypmp42"), make([]byte, maxRawMediaBytes)...)
	if err := os.WriteFile(mp4, big, 0o644); err != nil {
		t.Fatal(err)
	}
	wantErr(t, r, "camera.clip", nil, CodePayloadTooLarge)
	argv, _ = os.ReadFile(log)
	if !strings.Contains(lastNonEmptyLine(string(argv)), "-crf 36") {
		t.Fatalf("oversized clip was not re-encoded smaller: %q", lastNonEmptyLine(string(argv)))
	}
}

func lastNonEmptyLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
