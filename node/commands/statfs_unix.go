//go:build linux || darwin

package commands

import "syscall"

// diskUsage reports the size of the filesystem holding path; avail is what
// an unprivileged user may still write.
func diskUsage(path string) (disk, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return disk{}, false
	}
	bs := uint64(st.Bsize)
	total := uint64(st.Blocks) * bs
	free := uint64(st.Bfree) * bs
	d := disk{total: total, avail: uint64(st.Bavail) * bs}
	if total >= free {
		d.used = total - free
	}
	return d, true
}
