//go:build !unix

package bench

import "time"

func selfCPU() time.Duration { return 0 }

func raiseNoFile() (soft, hard uint64) { return 0, 0 }
