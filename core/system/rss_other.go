//go:build !linux

package system

import "runtime"

// rssBytes approximates RSS with the memory obtained from the OS.
func rssBytes() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.Sys)
}
