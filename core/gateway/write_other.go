//go:build !unix

package gateway

import "syscall"

// writeNonblock is unavailable here: every frame goes through writeLoop.
func writeNonblock(rc syscall.RawConn, b []byte) (int, error) { return 0, nil }
