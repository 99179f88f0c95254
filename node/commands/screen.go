package commands

import (
	"context"
	"encoding/json"
	"strconv"
	"time"
)

const (
	defaultRecordFPS = 10
	maxRecordFPS     = 60
)

// checkScreenIndex accepts the one X display screen.* capture.
func checkScreenIndex(v *float64) (int, error) {
	idx, err := intParam("screenIndex", v, 0, 0, 1<<20)
	if err != nil {
		return 0, err
	}
	if idx != 0 {
		return 0, invalid("screenIndex %d is out of range: this node has 1 screen (index 0)", idx)
	}
	return 0, nil
}

type screenSnapParams struct {
	ScreenIndex *float64 `json:"screenIndex"`
	MaxWidth    *float64 `json:"maxWidth"`
	Format      string   `json:"format"`
	Quality     *float64 `json:"quality"`
}

func (m *mediaBackend) screenSnapshot(ctx context.Context, raw json.RawMessage) (any, error) {
	var p screenSnapParams
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	if _, err := checkScreenIndex(p.ScreenIndex); err != nil {
		return nil, err
	}
	if err := oneOf("format", p.Format, "png", "jpg", "jpeg"); err != nil {
		return nil, err
	}
	format := "png"
	if p.Format == "jpg" || p.Format == "jpeg" {
		format = "jpg"
	}
	maxW, err := intParam("maxWidth", p.MaxWidth, 0, 0, maxMediaWidth)
	if err != nil {
		return nil, err
	}
	quality, err := fracParam("quality", p.Quality, 0.85)
	if err != nil {
		return nil, err
	}
	img, err := m.captureStill(ctx, []string{"-f", "x11grab", "-i", m.display}, format, maxW, quality, CodeScreenUnavailable)
	if err != nil {
		return nil, err
	}
	return map[string]any{"format": format, "base64": b64(img.data), "width": img.width, "height": img.height}, nil
}

type screenRecordParams struct {
	DurationMs   *float64 `json:"durationMs"`
	ScreenIndex  *float64 `json:"screenIndex"`
	FPS          *float64 `json:"fps"`
	Format       string   `json:"format"`
	IncludeAudio *bool    `json:"includeAudio"`
}

func (m *mediaBackend) screenRecord(ctx context.Context, raw json.RawMessage) (any, error) {
	var p screenRecordParams
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	ms, err := intParam("durationMs", p.DurationMs, defaultRecordMs, 1, maxDurationMs)
	if err != nil {
		return nil, err
	}
	idx, err := checkScreenIndex(p.ScreenIndex)
	if err != nil {
		return nil, err
	}
	fps, err := intParam("fps", p.FPS, defaultRecordFPS, 1, maxRecordFPS)
	if err != nil {
		return nil, err
	}
	if err := oneOf("format", p.Format, "mp4"); err != nil {
		return nil, err
	}
	input := []string{"-f", "x11grab", "-framerate", strconv.Itoa(fps), "-i", m.display}
	data, err := m.captureVideo(ctx, input, time.Duration(ms)*time.Millisecond, recordMaxWidth, CodeScreenUnavailable)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"format": "mp4", "base64": b64(data), "durationMs": ms, "fps": fps, "screenIndex": idx, "hasAudio": false,
	}, nil
}
