//go:build !linux

package gateway

// kernelRelease is only read on Linux; elsewhere the OS name stands alone.
func kernelRelease() string { return "" }
