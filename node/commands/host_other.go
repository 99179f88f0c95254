//go:build !linux && !darwin

package commands

func loadAverage() ([3]float64, bool)            { return [3]float64{}, false }
func memoryStats() (total, free uint64, ok bool) { return 0, 0, false }
func uptimeSeconds() (float64, bool)             { return 0, false }
func osVersion() string                          { return "unknown" }
func modelIdentifier() string                    { return "" }
func batteryStatus() map[string]any              { return nil }
func interfaceKind(string) string                { return "other" }
func diskUsage(string) (disk, bool)              { return disk{}, false }
