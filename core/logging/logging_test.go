package logging

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestRotationAtSizeCapKeepsNFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "gateway.log")
	const maxBytes = 2000
	log, closer, err := Setup(Options{Path: path, Level: slog.LevelInfo, MaxFileBytes: maxBytes, MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	const total = 400
	for i := 0; i < total; i++ {
		log.Info("tick", "seq", i, "pad", strings.Repeat("x", 40))
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}

	entries, _ := os.ReadDir(filepath.Dir(path))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"gateway.log", "gateway.log.1", "gateway.log.2", "gateway.log.3"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("files = %v, want %v", names, want)
	}

	// Oldest to newest, the kept records are one contiguous run ending at
	// the last record, every line is whole JSON, and no file exceeds the cap.
	var seqs []int
	for _, name := range []string{"gateway.log.3", "gateway.log.2", "gateway.log.1", "gateway.log"} {
		p := filepath.Join(filepath.Dir(path), name)
		st, _ := os.Stat(p)
		if st.Size() > maxBytes {
			t.Errorf("%s is %d bytes, over the %d cap", name, st.Size(), maxBytes)
		}
		if name != "gateway.log" && st.Size() < maxBytes/2 {
			t.Errorf("%s rotated early at %d bytes", name, st.Size())
		}
		if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", name, st.Mode().Perm())
		}
		for _, line := range readLines(t, p) {
			var rec struct {
				Time    string `json:"time"`
				Level   string `json:"level"`
				Message string `json:"message"`
				Seq     int    `json:"seq"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%s: bad line %q: %v", name, line, err)
			}
			if rec.Message != "tick" || rec.Level != "INFO" || rec.Time == "" {
				t.Fatalf("record %+v", rec)
			}
			seqs = append(seqs, rec.Seq)
		}
	}
	if len(seqs) == 0 || seqs[len(seqs)-1] != total-1 {
		t.Fatalf("newest record missing: %v", seqs)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("gap between %d and %d", seqs[i-1], seqs[i])
		}
	}
	if seqs[0] == 0 {
		t.Fatal("oldest records were not dropped")
	}
}

func TestConcurrentWritesRotateCleanly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.log")
	log, closer, err := Setup(Options{Path: path, MaxFileBytes: 4096, MaxFiles: 100})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				log.Info("concurrent", "g", g, "i", i)
			}
		}()
	}
	wg.Wait()
	closer.Close()
	n := 0
	files, _ := filepath.Glob(path + "*")
	for _, p := range files {
		for _, line := range readLines(t, p) {
			if !json.Valid([]byte(line)) {
				t.Fatalf("%s: torn line %q", p, line)
			}
			n++
		}
	}
	if n != 1600 {
		t.Fatalf("%d records across %d files, want 1600", n, len(files))
	}
}

func TestRotationResumesExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.log")
	if err := os.WriteFile(path, bytes.Repeat([]byte("{}\n"), 300), 0o600); err != nil { // 900 bytes
		t.Fatal(err)
	}
	log, closer, err := Setup(Options{Path: path, MaxFileBytes: 1000, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("this record does not fit in the 100 bytes left", "pad", strings.Repeat("y", 100))
	closer.Close()
	if lines := readLines(t, path+".1"); len(lines) != 300 {
		t.Fatalf("existing content not rotated: %d lines", len(lines))
	}
	if lines := readLines(t, path); len(lines) != 1 {
		t.Fatalf("new file has %d lines", len(lines))
	}
}

func TestOversizedRecordWrittenWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.log")
	log, closer, _ := Setup(Options{Path: path, MaxFileBytes: 100, MaxFiles: 1})
	log.Info("small")
	log.Info("big", "pad", strings.Repeat("z", 500))
	closer.Close()
	lines := readLines(t, path)
	if len(lines) != 1 || !json.Valid([]byte(lines[0])) || !strings.Contains(lines[0], `"big"`) {
		t.Fatalf("lines = %q", lines)
	}
	if old := readLines(t, path+".1"); len(old) != 1 || !strings.Contains(old[0], `"small"`) {
		t.Fatalf("archive = %q", old)
	}
}

func TestLevelsAndConsole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.log")
	var console bytes.Buffer
	log, closer, err := Setup(Options{Path: path, Level: slog.LevelInfo, Console: &console})
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.With("conn", "c1").WithGroup("req").Info("request done", "method", "health", "took", 15*time.Millisecond, "note", "two words", "err", errors.New("x=y"))
	log.Warn("careful", slog.Group("peer", "ip", "127.0.0.1"))
	log.Log(context.Background(), LevelFatal, "boom")
	closer.Close()

	lines := readLines(t, path)
	if len(lines) != 3 {
		t.Fatalf("file lines = %q", lines)
	}
	var rec map[string]any
	json.Unmarshal([]byte(lines[0]), &rec)
	if rec["message"] != "request done" || rec["conn"] != "c1" || rec["req"].(map[string]any)["method"] != "health" {
		t.Fatalf("file record = %v", rec)
	}
	if _, ok := rec["msg"]; ok {
		t.Fatal("msg key not renamed")
	}
	json.Unmarshal([]byte(lines[2]), &rec)
	if rec["level"] != "FATAL" {
		t.Fatalf("fatal level = %v", rec["level"])
	}

	out := strings.Split(strings.TrimSuffix(console.String(), "\n"), "\n")
	if len(out) != 3 {
		t.Fatalf("console = %q", console.String())
	}
	first := out[0]
	if len(first) < 13 || first[2] != ':' || first[8] != '.' {
		t.Fatalf("no timestamp: %q", first)
	}
	if !strings.Contains(first, " INFO  request done conn=c1 req.method=health req.took=15ms") {
		t.Fatalf("console line = %q", first)
	}
	if !strings.Contains(first, ` req.note="two words" req.err="x=y"`) {
		t.Fatalf("console quoting = %q", first)
	}
	if !strings.Contains(out[1], " WARN  careful peer.ip=127.0.0.1") || !strings.Contains(out[2], " FATAL boom") {
		t.Fatalf("console = %q", out)
	}
}

func TestConsoleJSONAndNoFile(t *testing.T) {
	var console bytes.Buffer
	log, closer, err := Setup(Options{Level: slog.LevelDebug, Console: &console, ConsoleJSON: true})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	log.Debug("d", "k", 1)
	var rec map[string]any
	if err := json.Unmarshal(console.Bytes(), &rec); err != nil || rec["message"] != "d" || rec["level"] != "DEBUG" {
		t.Fatalf("console JSON %q: %v", console.String(), err)
	}

	quiet, c2, err := Setup(Options{})
	if err != nil {
		t.Fatal(err)
	}
	quiet.Error("goes nowhere")
	c2.Close()
}

func TestParseLevel(t *testing.T) {
	for s, want := range map[string]slog.Level{
		"trace": LevelTrace, "DEBUG": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn,
		"warning": slog.LevelWarn, "error": slog.LevelError, "fatal": LevelFatal, "silent": LevelSilent,
	} {
		if got, ok := ParseLevel(s); !ok || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", s, got, ok)
		}
	}
	if _, ok := ParseLevel("loud"); ok {
		t.Error("unknown level accepted")
	}
}

// writeLog writes n JSON lines numbered from first and returns the file size.
func writeLog(t *testing.T, path string, first, n int) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := first; i < first+n; i++ {
		fmt.Fprintf(w, "{\"seq\":%d,\"message\":\"line %05d\"}\n", i, i)
	}
	w.Flush()
	f.Close()
	st, _ := os.Stat(path)
	return st.Size()
}

func seqOf(t *testing.T, line string) int {
	t.Helper()
	var rec struct{ Seq int }
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("line %q is not whole JSON: %v", line, err)
	}
	return rec.Seq
}

func ptr(v int64) *int64 { return &v }

func TestTailWithoutCursor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.log")
	size := writeLog(t, path, 0, 1000)
	content, _ := os.ReadFile(path)
	last3 := size - int64(bytes.Index(content, []byte(`{"seq":997,`)))

	res, err := Tail(path, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.File != path || res.Size != size || res.Cursor != size {
		t.Fatalf("res = %+v", res)
	}
	if len(res.Lines) != 500 || !res.Truncated || seqOf(t, res.Lines[0]) != 500 || seqOf(t, res.Lines[499]) != 999 {
		t.Fatalf("default limit: %d lines truncated=%v", len(res.Lines), res.Truncated)
	}

	res, _ = Tail(path, nil, 10, 0)
	if len(res.Lines) != 10 || seqOf(t, res.Lines[0]) != 990 || !res.Truncated {
		t.Fatalf("limit 10: %+v", res)
	}

	// A byte window that starts mid-line drops the fragment.
	res, _ = Tail(path, nil, 5000, int(last3+5))
	if len(res.Lines) != 3 || seqOf(t, res.Lines[0]) != 997 || !res.Truncated {
		t.Fatalf("maxBytes window: %q", res.Lines)
	}
	// A window that starts exactly on a line boundary keeps that line.
	res, _ = Tail(path, nil, 5000, int(last3))
	if len(res.Lines) != 3 || seqOf(t, res.Lines[0]) != 997 {
		t.Fatalf("aligned window: %q", res.Lines)
	}

	// Everything fits: not truncated.
	small := filepath.Join(t.TempDir(), "small.log")
	writeLog(t, small, 0, 3)
	res, _ = Tail(small, nil, 0, 0)
	if len(res.Lines) != 3 || res.Truncated || res.Reset {
		t.Fatalf("small: %+v", res)
	}
}

func TestTailWithCursor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.log")
	size := writeLog(t, path, 0, 20)

	res, _ := Tail(path, ptr(size), 0, 0)
	if len(res.Lines) != 0 || res.Cursor != size || res.Reset || res.Truncated {
		t.Fatalf("at end: %+v", res)
	}

	writeLog(t, path, 20, 5)
	res, _ = Tail(path, ptr(size), 0, 0)
	if len(res.Lines) != 5 || seqOf(t, res.Lines[0]) != 20 || seqOf(t, res.Lines[4]) != 24 || res.Truncated || res.Reset {
		t.Fatalf("new lines: %+v", res)
	}
	cur := res.Cursor

	// A line still being written is held back until it is complete.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"seq":25,"message":"parti`)
	f.Close()
	res, _ = Tail(path, &cur, 0, 0)
	if len(res.Lines) != 0 || res.Cursor != cur {
		t.Fatalf("partial line: %+v", res)
	}
	f, _ = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("al\"}\n")
	f.Close()
	res, _ = Tail(path, &cur, 0, 0)
	if len(res.Lines) != 1 || seqOf(t, res.Lines[0]) != 25 {
		t.Fatalf("completed line: %+v", res)
	}
	cur = res.Cursor

	// More new lines than limit: the newest limit are returned, truncated.
	writeLog(t, path, 26, 50)
	res, _ = Tail(path, &cur, 10, 0)
	if len(res.Lines) != 10 || !res.Truncated || seqOf(t, res.Lines[0]) != 66 || seqOf(t, res.Lines[9]) != 75 {
		t.Fatalf("over limit: %+v", res)
	}
	st, _ := os.Stat(path)
	if res.Cursor != st.Size() || res.Reset {
		t.Fatalf("cursor %d, size %d", res.Cursor, st.Size())
	}
	cur = res.Cursor

	// More new bytes than maxBytes: skip ahead and say how much was skipped.
	writeLog(t, path, 76, 100)
	res, _ = Tail(path, &cur, 0, 370)
	st, _ = os.Stat(path)
	if !res.Reset || !res.Truncated || res.SkippedBytes != st.Size()-370-cur {
		t.Fatalf("skip ahead: %+v (size %d, cursor %d)", res, st.Size(), cur)
	}
	if len(res.Lines) == 0 || seqOf(t, res.Lines[len(res.Lines)-1]) != 175 || len(res.Lines) > 10 {
		t.Fatalf("skip ahead lines: %q", res.Lines)
	}

	// Negative cursor is treated as 0.
	res, _ = Tail(path, ptr(-5), 1, 0)
	if len(res.Lines) != 1 || seqOf(t, res.Lines[0]) != 175 {
		t.Fatalf("negative cursor: %+v", res)
	}
}

func TestTailResetAfterRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "gateway.log")
	log, closer, err := Setup(Options{Path: path, MaxFileBytes: 3000, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	for i := 0; i < 20; i++ {
		log.Info("before", "seq", i)
	}
	res, _ := Tail(path, nil, 0, 0)
	cur := res.Cursor
	if cur == 0 || len(res.Lines) != 20 {
		t.Fatalf("initial: %+v", res)
	}

	// Fill past the cap so the file rotates, then write a few more records
	// so the new file is shorter than the old cursor.
	i := 20
	for {
		log.Info("filler", "seq", i, "pad", strings.Repeat("p", 100))
		i++
		if _, err := os.Stat(path + ".1"); err == nil {
			break
		}
	}
	log.Info("after", "seq", i)
	st, _ := os.Stat(path)
	if st.Size() >= cur {
		t.Fatalf("test setup: new file (%d) not shorter than cursor (%d)", st.Size(), cur)
	}

	res, err = Tail(path, &cur, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reset || res.Size != st.Size() || res.Cursor != st.Size() {
		t.Fatalf("after rotation: %+v", res)
	}
	if len(res.Lines) == 0 || seqOf(t, res.Lines[len(res.Lines)-1]) != i {
		t.Fatalf("lines after reset: %q", res.Lines)
	}
	// The reset read starts from the beginning of the new file.
	if got := readLines(t, path); len(got) != len(res.Lines) || got[0] != res.Lines[0] {
		t.Fatalf("reset did not start at the beginning: %d vs %d lines", len(got), len(res.Lines))
	}
}

func TestTailMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.log")
	res, err := Tail(path, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != 0 || res.Cursor != 0 || res.Lines == nil || len(res.Lines) != 0 || res.Reset {
		t.Fatalf("missing: %+v", res)
	}
	b, _ := json.Marshal(res)
	if !strings.Contains(string(b), `"lines":[]`) {
		t.Fatalf("lines must encode as []: %s", b)
	}
	res, _ = Tail(path, ptr(100), 0, 0)
	if !res.Reset {
		t.Fatal("cursor into a vanished file should reset")
	}
	if _, err := Tail(t.TempDir(), nil, 0, 0); err == nil {
		t.Fatal("directory accepted as a log file")
	}
}
