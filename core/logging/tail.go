package logging

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/pincerhq/pincer/core/protocol"
)

// logs.tail bounds, as in OpenClaw.
const (
	DefaultTailLimit    = 500
	DefaultTailMaxBytes = 250_000
	MaxTailLimit        = 5000
	MaxTailMaxBytes     = 1_000_000
)

// Tail implements logs.tail over the JSON-lines file at path, with OpenClaw's
// semantics: a client always sees the newest part of the log, and the cursor
// lets a follower ask only for what is new.
//
// limit and maxBytes <= 0 take the defaults (500 lines, 250000 bytes) and
// are capped at 5000 and 1000000. Without a cursor the result holds the last
// limit complete lines found within the last maxBytes of the file. With a
// cursor it holds the complete lines written after that byte offset; if more
// than maxBytes were written since, the reader skips ahead to the last
// maxBytes (reset, truncated and skippedBytes say so), and if more than limit
// lines are available only the newest limit are returned (truncated). A
// cursor beyond the end of the file means the file was rotated or truncated:
// reset is set and reading starts over from the new file's beginning (or its
// last maxBytes). The new cursor is the offset just past the last complete
// line, so a line still being written is returned whole by a later call.
// A missing file yields no lines and size 0.
func Tail(path string, cursor *int64, limit, maxBytes int) (protocol.LogsTailResult, error) {
	if limit <= 0 {
		limit = DefaultTailLimit
	}
	limit = min(limit, MaxTailLimit)
	if maxBytes <= 0 {
		maxBytes = DefaultTailMaxBytes
	}
	maxBytes = min(maxBytes, MaxTailMaxBytes)
	window := int64(maxBytes)

	res := protocol.LogsTailResult{File: path, Lines: []string{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		res.Reset = cursor != nil && *cursor > 0
		return res, nil
	}
	if err != nil {
		return res, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return res, err
	}
	if !st.Mode().IsRegular() {
		return res, fmt.Errorf("log path is not a regular file: %s", path)
	}
	size := st.Size()
	res.Size = size

	var start int64
	if cursor != nil {
		c := max(0, *cursor)
		switch {
		case c > size:
			res.Reset = true
			start = max(0, size-window)
			res.Truncated = start > 0
		case size-c > window:
			res.Reset = true
			res.Truncated = true
			start = size - window
			res.SkippedBytes = start - c
		default:
			start = c
		}
	} else {
		start = max(0, size-window)
		res.Truncated = start > 0
	}
	if size == 0 || size <= start {
		res.Cursor = size
		return res, nil
	}

	buf := make([]byte, size-start)
	n, err := f.ReadAt(buf, start)
	if err != nil && !errors.Is(err, io.EOF) {
		return res, err
	}
	buf = buf[:n]

	// Starting mid-line (a byte window or a stale cursor): the first
	// fragment is not a whole line, so drop it.
	midLine := false
	if start > 0 {
		var prev [1]byte
		if _, err := f.ReadAt(prev[:], start-1); err == nil {
			midLine = prev[0] != '\n'
		}
	}

	last := bytes.LastIndexByte(buf, '\n')
	if last < 0 {
		res.Cursor = start
		return res, nil
	}
	res.Cursor = start + int64(last) + 1
	lines := strings.Split(string(buf[:last]), "\n")
	if midLine {
		lines = lines[1:]
	}
	if len(lines) > limit {
		res.Truncated = true
		lines = lines[len(lines)-limit:]
	}
	res.Lines = lines
	return res, nil
}
