//go:build unix && !linux

package interop

import "syscall"

func setParentDeathSignal(*syscall.SysProcAttr) {}
