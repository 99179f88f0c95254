//go:build linux

package interop

import "syscall"

// setParentDeathSignal makes the kernel kill the child when the thread that
// started it ends (the caller keeps that thread locked and alive), so a test
// binary killed by -timeout does not leave an official gateway behind.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
