package commands

import (
	"context"
	"encoding/json"
	"math"
	"time"
)

// defaultLocationAccuracy is reported when the configured location gives no
// accuracy: a fixed, configured position is only coarse.
const defaultLocationAccuracy = 1000

type locationParams struct {
	TimeoutMs       *float64 `json:"timeoutMs"`
	MaxAgeMs        *float64 `json:"maxAgeMs"`
	DesiredAccuracy string   `json:"desiredAccuracy"`
}

// validLocation reports whether l is a usable position.
func validLocation(l *StaticLocation) bool {
	if l == nil {
		return false
	}
	for _, v := range []float64{l.Lat, l.Lon, l.AccuracyMeters} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return l.Lat >= -90 && l.Lat <= 90 && l.Lon >= -180 && l.Lon <= 180 && l.AccuracyMeters >= 0
}

func (r *Registry) locationGet(_ context.Context, raw json.RawMessage) (any, error) {
	var p locationParams
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	if _, err := intParam("timeoutMs", p.TimeoutMs, 0, 0, math.MaxInt32); err != nil {
		return nil, err
	}
	if _, err := intParam("maxAgeMs", p.MaxAgeMs, 0, 0, math.MaxInt32); err != nil {
		return nil, err
	}
	if err := oneOf("desiredAccuracy", p.DesiredAccuracy, "coarse", "balanced", "precise"); err != nil {
		return nil, err
	}
	loc := r.location
	if loc == nil {
		return nil, newError(CodeLocationUnavailable, "no location configured on this node (set node.location in the node config)")
	}
	acc := loc.AccuracyMeters
	if acc <= 0 {
		acc = defaultLocationAccuracy
	}
	return map[string]any{
		"lat":            loc.Lat,
		"lon":            loc.Lon,
		"accuracyMeters": acc,
		"timestamp":      time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"isPrecise":      false,
		"source":         "unknown",
	}, nil
}

// addLocation declares location.get always (it answers
// LOCATION_UNAVAILABLE without a configured position) and the "location"
// cap only with one.
func (r *Registry) addLocation() {
	if r.cfg.Location != nil {
		if validLocation(r.cfg.Location) {
			l := *r.cfg.Location
			r.location = &l
			r.log.Info("node location configured", "label", l.Label)
		} else {
			r.log.Warn("ignoring invalid node location", "lat", r.cfg.Location.Lat, "lon", r.cfg.Location.Lon, "accuracyMeters", r.cfg.Location.AccuracyMeters)
		}
	}
	r.add(r.location != nil, Command{Name: "location.get", Cap: "location", Handler: r.locationGet})
}
