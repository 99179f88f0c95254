package commands

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

var (
	// videoDeviceGlob finds V4L2 device nodes; tests point it elsewhere.
	videoDeviceGlob = "/dev/video*"
	// v4lSysRoot holds the V4L2 device names.
	v4lSysRoot = "/sys/class/video4linux"
	// v4lFormatLine matches ffmpeg's -list_formats output of a capture node.
	v4lFormatLine = regexp.MustCompile(`(?m)\b(Raw|Compressed)\s*:`)
	videoNodeNum  = regexp.MustCompile(`(\d+)$`)
)

// camera is one usable capture device.
type camera struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Position   string `json:"position"`
	DeviceType string `json:"deviceType"`
}

func nodeNumber(path string) int {
	if m := videoNodeNum.FindStringSubmatch(path); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return -1
}

// scanCameras lists the video nodes ffmpeg can open as capture devices
// (UVC cameras also expose metadata nodes, which this filters out).
func (m *mediaBackend) scanCameras(ctx context.Context) []camera {
	paths, _ := filepath.Glob(videoDeviceGlob)
	sort.Slice(paths, func(i, j int) bool {
		ni, nj := nodeNumber(paths[i]), nodeNumber(paths[j])
		if ni != nj {
			return ni < nj
		}
		return paths[i] < paths[j]
	})
	var cams []camera
	for _, p := range paths {
		if ctx.Err() != nil {
			break
		}
		out := m.output(ctx, probeTimeout, "-f", "v4l2", "-list_formats", "all", "-i", p)
		if !v4lFormatLine.MatchString(out) {
			m.r.log.Debug("skipping video node ffmpeg cannot capture from", "device", p)
			continue
		}
		name := readTrim(filepath.Join(v4lSysRoot, filepath.Base(p), "name"))
		if name == "" {
			name = "Video device " + filepath.Base(p)
		}
		cams = append(cams, camera{ID: p, Name: name, Position: "unspecified", DeviceType: "external"})
	}
	return cams
}

// pickCamera resolves deviceID (default: the first camera) against the
// devices present now.
func (m *mediaBackend) pickCamera(ctx context.Context, deviceID string) (camera, error) {
	cams := m.scanCameras(ctx)
	if len(cams) == 0 {
		return camera{}, newError(CodeCameraUnavailable, "no camera is available on this node")
	}
	if deviceID == "" {
		return cams[0], nil
	}
	for _, c := range cams {
		if c.ID == deviceID {
			return c, nil
		}
	}
	ids := make([]string, len(cams))
	for i, c := range cams {
		ids[i] = c.ID
	}
	return camera{}, invalid("unknown deviceId %q (available: %s)", deviceID, strings.Join(ids, ", "))
}

func (m *mediaBackend) cameraList(ctx context.Context, raw json.RawMessage) (any, error) {
	var p struct{}
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	cams := m.scanCameras(ctx)
	if cams == nil {
		cams = []camera{}
	}
	return map[string]any{"devices": cams}, nil
}

type snapParams struct {
	Facing   string   `json:"facing"`
	MaxWidth *float64 `json:"maxWidth"`
	Quality  *float64 `json:"quality"`
	Format   string   `json:"format"`
	DelayMs  *float64 `json:"delayMs"`
	DeviceID string   `json:"deviceId"`
}

func (m *mediaBackend) cameraSnap(ctx context.Context, raw json.RawMessage) (any, error) {
	var p snapParams
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	if err := oneOf("facing", p.Facing, "front", "back"); err != nil {
		return nil, err
	}
	if err := oneOf("format", p.Format, "jpg", "jpeg"); err != nil {
		return nil, err
	}
	maxW, err := intParam("maxWidth", p.MaxWidth, defaultSnapW, 0, maxMediaWidth)
	if err != nil {
		return nil, err
	}
	if maxW == 0 {
		maxW = defaultSnapW
	}
	quality, err := fracParam("quality", p.Quality, 0.85)
	if err != nil {
		return nil, err
	}
	delay, err := intParam("delayMs", p.DelayMs, 0, 0, maxDelayMs)
	if err != nil {
		return nil, err
	}
	cam, err := m.pickCamera(ctx, p.DeviceID)
	if err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, time.Duration(delay)*time.Millisecond); err != nil {
		return nil, newError(CodeTimeout, "camera.snap delay: %v", err)
	}
	img, err := m.captureStill(ctx, []string{"-f", "v4l2", "-i", cam.ID}, "jpg", maxW, quality, CodeCameraUnavailable)
	if err != nil {
		return nil, err
	}
	return map[string]any{"format": "jpg", "base64": b64(img.data), "width": img.width, "height": img.height}, nil
}

type clipParams struct {
	Facing       string   `json:"facing"`
	DurationMs   *float64 `json:"durationMs"`
	IncludeAudio *bool    `json:"includeAudio"`
	Format       string   `json:"format"`
	DeviceID     string   `json:"deviceId"`
}

func (m *mediaBackend) cameraClip(ctx context.Context, raw json.RawMessage) (any, error) {
	var p clipParams
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	if err := oneOf("facing", p.Facing, "front", "back"); err != nil {
		return nil, err
	}
	if err := oneOf("format", p.Format, "mp4"); err != nil {
		return nil, err
	}
	ms, err := intParam("durationMs", p.DurationMs, defaultClipMs, 1, maxDurationMs)
	if err != nil {
		return nil, err
	}
	cam, err := m.pickCamera(ctx, p.DeviceID)
	if err != nil {
		return nil, err
	}
	// Audio capture is not implemented: clips are always silent.
	data, err := m.captureVideo(ctx, []string{"-f", "v4l2", "-i", cam.ID}, time.Duration(ms)*time.Millisecond, clipMaxWidth, CodeCameraUnavailable)
	if err != nil {
		return nil, err
	}
	return map[string]any{"format": "mp4", "base64": b64(data), "durationMs": ms, "hasAudio": false}, nil
}
