package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Defaults for Options fields left zero.
const (
	DefaultMaxFileBytes = 10 << 20
	DefaultMaxFiles     = 5
)

// Levels beyond slog's four, for OpenClaw's trace and fatal.
const (
	LevelTrace = slog.LevelDebug - 4
	LevelFatal = slog.LevelError + 4
	// LevelSilent is above every record, so nothing is logged.
	LevelSilent = slog.Level(1 << 20)
)

// ParseLevel maps a logging.level value (trace, debug, info, warn, error,
// fatal, silent; case-insensitive, "warning" accepted) to a slog level.
func ParseLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "trace":
		return LevelTrace, true
	case "debug":
		return slog.LevelDebug, true
	case "info", "":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	case "fatal":
		return LevelFatal, true
	case "silent", "off", "none":
		return LevelSilent, true
	}
	return slog.LevelInfo, false
}

// levelName spells the extra levels by name rather than slog's "DEBUG-4".
func levelName(l slog.Level) string {
	switch l {
	case LevelTrace:
		return "TRACE"
	case LevelFatal:
		return "FATAL"
	}
	return l.String()
}

// Options configure Setup.
type Options struct {
	// Path is the JSON-lines log file; "" disables the file.
	Path  string
	Level slog.Level
	// MaxFileBytes is the size at which the file rotates (default 10 MiB).
	MaxFileBytes int64
	// MaxFiles is how many rotated files (Path.1 … Path.N) are kept beside
	// the active one (default 5).
	MaxFiles int
	// Console, when set, also receives every record: a readable line, or
	// JSON when ConsoleJSON is set.
	Console     io.Writer
	ConsoleJSON bool
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// Setup builds the gateway logger. The closer closes the log file; records
// logged after Close are dropped from the file (the console still gets them).
func Setup(opt Options) (*slog.Logger, io.Closer, error) {
	if opt.MaxFileBytes <= 0 {
		opt.MaxFileBytes = DefaultMaxFileBytes
	}
	if opt.MaxFiles <= 0 {
		opt.MaxFiles = DefaultMaxFiles
	}
	var handlers []slog.Handler
	var closer io.Closer = nopCloser{}
	if opt.Path != "" {
		w, err := openRotating(opt.Path, opt.MaxFileBytes, opt.MaxFiles)
		if err != nil {
			return nil, nil, fmt.Errorf("open log file: %w", err)
		}
		closer = w
		handlers = append(handlers, slog.NewJSONHandler(w, &slog.HandlerOptions{
			Level:       opt.Level,
			ReplaceAttr: fileAttr,
		}))
	}
	if opt.Console != nil {
		if opt.ConsoleJSON {
			handlers = append(handlers, slog.NewJSONHandler(opt.Console, &slog.HandlerOptions{
				Level:       opt.Level,
				ReplaceAttr: fileAttr,
			}))
		} else {
			handlers = append(handlers, newConsoleHandler(opt.Console, opt.Level))
		}
	}
	var h slog.Handler
	switch len(handlers) {
	case 0:
		h = slog.DiscardHandler
	case 1:
		h = handlers[0]
	default:
		h = slog.NewMultiHandler(handlers...)
	}
	return slog.New(h), closer, nil
}

// fileAttr renames slog's "msg" to the "message" key OpenClaw's log readers
// look for, and names the extra levels.
func fileAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.MessageKey:
		a.Key = "message"
	case slog.LevelKey:
		if l, ok := a.Value.Any().(slog.Level); ok {
			a.Value = slog.StringValue(levelName(l))
		}
	}
	return a
}
