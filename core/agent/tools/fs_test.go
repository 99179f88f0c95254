package tools

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

type fsFixture struct {
	ws, outside, secret string
}

// newFS makes a workspace and, beside it, an outside directory with a
// secret file the tools must never reach.
func newFS(t *testing.T) fsFixture {
	t.Helper()
	base := t.TempDir()
	f := fsFixture{ws: filepath.Join(base, "ws"), outside: filepath.Join(base, "outside")}
	for _, d := range []string{f.ws, f.outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.secret = filepath.Join(f.outside, "secret.txt")
	writeFileT(t, f.secret, "TOP SECRET\n")
	return f
}

func writeFileT(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFileT(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWorkspaceRefusesTraversal(t *testing.T) {
	f := newFS(t)
	writeFileT(t, filepath.Join(f.ws, "sub", "ok.txt"), "fine\n")
	rel, _ := filepath.Rel(f.ws, f.secret)
	for _, p := range []string{"../outside/secret.txt", rel, "sub/../../outside/secret.txt", "..", f.secret, "/etc/passwd", "~/x"} {
		t.Run(p, func(t *testing.T) {
			for _, tool := range []Tool{NewRead(), NewLs()} {
				r := run(t, tool, f.ws, map[string]any{"path": p})
				s := wantErr(t, r)
				if strings.Contains(s, "TOP SECRET") {
					t.Fatal("secret leaked")
				}
			}
			wantErr(t, run(t, NewWrite(), f.ws, map[string]any{"path": p, "content": "x"}))
			wantErr(t, run(t, NewEdit(), f.ws, map[string]any{"path": p, "oldText": "TOP", "newText": "x"}))
		})
	}
	if got := readFileT(t, f.secret); got != "TOP SECRET\n" {
		t.Fatalf("secret changed: %q", got)
	}
	// ".." inside the workspace is fine.
	if got := wantOK(t, run(t, NewRead(), f.ws, map[string]any{"path": "sub/../sub/ok.txt"})); got != "fine\n" {
		t.Fatalf("read = %q", got)
	}
	// So is an absolute path inside it.
	if got := wantOK(t, run(t, NewRead(), f.ws, map[string]any{"path": filepath.Join(f.ws, "sub", "ok.txt")})); got != "fine\n" {
		t.Fatalf("read = %q", got)
	}
}

func TestWorkspaceRefusesSymlinkEscapes(t *testing.T) {
	f := newFS(t)
	mustSymlink(t, f.secret, filepath.Join(f.ws, "link.txt"))                         // file link out
	mustSymlink(t, f.outside, filepath.Join(f.ws, "out"))                             // dir link out
	mustSymlink(t, filepath.Join(f.outside, "nope.txt"), filepath.Join(f.ws, "dang")) // dangling link out
	mustSymlink(t, "../outside", filepath.Join(f.ws, "relout"))                       // relative dir link out

	for _, p := range []string{"link.txt", "out/secret.txt", "relout/secret.txt", "out"} {
		s := wantErr(t, run(t, NewRead(), f.ws, map[string]any{"path": p}), "outside the workspace")
		if strings.Contains(s, "TOP SECRET") {
			t.Fatal("secret leaked")
		}
	}
	wantErr(t, run(t, NewLs(), f.ws, map[string]any{"path": "out"}), "outside the workspace")
	wantErr(t, run(t, NewLs(), f.ws, map[string]any{"path": "relout/"}), "outside the workspace")

	// Writing through links that lead out.
	wantErr(t, run(t, NewWrite(), f.ws, map[string]any{"path": "link.txt", "content": "pwned"}), "outside the workspace")
	wantErr(t, run(t, NewWrite(), f.ws, map[string]any{"path": "out/new.txt", "content": "pwned"}), "outside the workspace")
	wantErr(t, run(t, NewWrite(), f.ws, map[string]any{"path": "out/deep/new.txt", "content": "pwned"}), "outside the workspace")
	wantErr(t, run(t, NewWrite(), f.ws, map[string]any{"path": "dang", "content": "pwned"}), "symlink")
	wantErr(t, run(t, NewEdit(), f.ws, map[string]any{"path": "link.txt", "oldText": "TOP", "newText": "PWN"}), "outside the workspace")

	if got := readFileT(t, f.secret); got != "TOP SECRET\n" {
		t.Fatalf("secret changed: %q", got)
	}
	for _, p := range []string{"new.txt", "deep", "nope.txt"} {
		if _, err := os.Lstat(filepath.Join(f.outside, p)); err == nil {
			t.Fatalf("%s was created outside the workspace", p)
		}
	}

	// Links that stay inside are followed.
	writeFileT(t, filepath.Join(f.ws, "real", "a.txt"), "inside\n")
	mustSymlink(t, "real/a.txt", filepath.Join(f.ws, "rel-in.txt"))
	mustSymlink(t, filepath.Join(f.ws, "real"), filepath.Join(f.ws, "abs-in"))
	if got := wantOK(t, run(t, NewRead(), f.ws, map[string]any{"path": "rel-in.txt"})); got != "inside\n" {
		t.Fatalf("read = %q", got)
	}
	wantOK(t, run(t, NewWrite(), f.ws, map[string]any{"path": "abs-in/b.txt", "content": "via link"}))
	if got := readFileT(t, filepath.Join(f.ws, "real", "b.txt")); got != "via link" {
		t.Fatalf("b.txt = %q", got)
	}
}

func TestWorkspaceItselfSymlinked(t *testing.T) {
	f := newFS(t)
	alias := filepath.Join(filepath.Dir(f.ws), "alias")
	mustSymlink(t, f.ws, alias)
	writeFileT(t, filepath.Join(f.ws, "a.txt"), "A")
	for _, p := range []string{"a.txt", filepath.Join(alias, "a.txt"), filepath.Join(f.ws, "a.txt")} {
		if got := wantOK(t, run(t, NewRead(), alias, map[string]any{"path": p})); got != "A" {
			t.Fatalf("read %s = %q", p, got)
		}
	}
	wantErr(t, run(t, NewRead(), alias, map[string]any{"path": f.secret}), "outside the workspace")
}

func TestWorkspaceMissing(t *testing.T) {
	wantErr(t, run(t, NewRead(), "", map[string]any{"path": "a"}), "no workspace")
	wantErr(t, run(t, NewRead(), "relative/ws", map[string]any{"path": "a"}), "not an absolute path")
	wantErr(t, run(t, NewLs(), filepath.Join(t.TempDir(), "gone"), map[string]any{}), "does not exist")
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}

func TestReadLines(t *testing.T) {
	f := newFS(t)
	var b strings.Builder
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	writeFileT(t, filepath.Join(f.ws, "ten.txt"), b.String())
	read := NewRead()

	if got := wantOK(t, run(t, read, f.ws, map[string]any{"path": "ten.txt"})); got != b.String() {
		t.Fatalf("whole file = %q", got)
	}
	got := wantOK(t, run(t, read, f.ws, map[string]any{"path": "ten.txt", "offset": 3, "limit": 2}))
	if !strings.HasPrefix(got, "line 3\nline 4\n\n[") || !strings.Contains(got, "continue with offset=5") {
		t.Fatalf("offset/limit = %q", got)
	}
	if got := wantOK(t, run(t, read, f.ws, map[string]any{"path": "ten.txt", "offset": 10})); got != "line 10\n" {
		t.Fatalf("last line = %q", got)
	}
	wantErr(t, run(t, read, f.ws, map[string]any{"path": "ten.txt", "offset": 11}), "past the end", "10 lines")
	wantErr(t, run(t, read, f.ws, map[string]any{"path": "ten.txt", "limit": 0}), "limit")
	wantErr(t, run(t, read, f.ws, map[string]any{"path": "ten.txt", "offset": "3"}), "offset must be a number")
	wantErr(t, run(t, read, f.ws, map[string]any{}), "path is required")
	wantErr(t, run(t, read, f.ws, `[1]`), "JSON object")
	wantErr(t, run(t, read, f.ws, map[string]any{"path": "nope.txt"}), "does not exist")
	wantErr(t, run(t, read, f.ws, map[string]any{"path": "."}), "is a directory")

	// No trailing newline.
	writeFileT(t, filepath.Join(f.ws, "nonl.txt"), "a\nb")
	if got := wantOK(t, run(t, read, f.ws, map[string]any{"path": "nonl.txt", "offset": 2})); got != "b" {
		t.Fatalf("no trailing newline = %q", got)
	}
	wantErr(t, run(t, read, f.ws, map[string]any{"path": "nonl.txt", "offset": 3}), "2 lines")

	writeFileT(t, filepath.Join(f.ws, "empty.txt"), "")
	if got := wantOK(t, run(t, read, f.ws, map[string]any{"path": "empty.txt"})); !strings.Contains(got, "empty") {
		t.Fatalf("empty = %q", got)
	}
	// file_path alias.
	if got := wantOK(t, run(t, read, f.ws, map[string]any{"file_path": "nonl.txt"})); got != "a\nb" {
		t.Fatalf("file_path = %q", got)
	}
}

func TestReadCap(t *testing.T) {
	f := newFS(t)
	line := strings.Repeat("x", 99) + "\n" // 100 bytes
	writeFileT(t, filepath.Join(f.ws, "big.txt"), strings.Repeat(line, 5000))
	got := wantOK(t, run(t, NewRead(), f.ws, map[string]any{"path": "big.txt"}))
	body, note, _ := strings.Cut(got, "\n\n[")
	if len(body) > ReadMaxBytes || len(body) < ReadMaxBytes-100 {
		t.Fatalf("body is %d bytes", len(body))
	}
	want := ReadMaxBytes/100 + 1
	if !strings.Contains(note, "truncated at 256 KiB") || !strings.Contains(note, fmt.Sprintf("offset=%d", want)) {
		t.Fatalf("note = %q", note)
	}
	// Continuing from the note's offset picks up where it stopped.
	got = wantOK(t, run(t, NewRead(), f.ws, map[string]any{"path": "big.txt", "offset": want, "limit": 1}))
	if !strings.HasPrefix(got, line) {
		t.Fatalf("continuation = %q", clip(got, 200))
	}

	// A single line longer than the cap is cut, not refused.
	writeFileT(t, filepath.Join(f.ws, "oneline.txt"), strings.Repeat("é", ReadMaxBytes))
	got = wantOK(t, run(t, NewRead(), f.ws, map[string]any{"path": "oneline.txt"}))
	body, note, _ = strings.Cut(got, "\n\n[")
	if len(body) > ReadMaxBytes || !strings.Contains(note, "longer than 256 KiB") || strings.ContainsRune(body, '\uFFFD') {
		t.Fatalf("long line: %d bytes, note %q", len(body), note)
	}
}

func TestReadImageAndBinary(t *testing.T) {
	f := newFS(t)
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	writeFileT(t, filepath.Join(f.ws, "pic.dat"), buf.String()) // sniffed, not by extension
	r := wantOKResult(t, run(t, NewRead(), f.ws, map[string]any{"path": "pic.dat"}))
	if len(r.Content) != 2 || r.Content[1].Type != "image" || r.Content[1].MediaType != "image/png" || !bytes.Equal(r.Content[1].Data, buf.Bytes()) {
		t.Fatalf("image result = %+v", r.Content)
	}
	if err := syscall.Mkfifo(filepath.Join(f.ws, "fifo"), 0o644); err == nil {
		// Refused without blocking on the open.
		wantErr(t, run(t, NewRead(), f.ws, map[string]any{"path": "fifo"}), "not a regular file")
		wantErr(t, run(t, NewWrite(), f.ws, map[string]any{"path": "fifo", "content": "x"}), "not a regular file")
	}
	writeFileT(t, filepath.Join(f.ws, "bin"), "\x7fELF\x00\x00\x01")
	wantErr(t, run(t, NewRead(), f.ws, map[string]any{"path": "bin"}), "binary")
}

func wantOKResult(t *testing.T, r Result) Result {
	t.Helper()
	wantOK(t, r)
	return r
}

func TestWrite(t *testing.T) {
	f := newFS(t)
	w := NewWrite()
	got := wantOK(t, run(t, w, f.ws, map[string]any{"path": "a/b/c.txt", "content": "hello"}))
	if !strings.Contains(got, "Created a/b/c.txt (5 bytes)") {
		t.Fatalf("write = %q", got)
	}
	if readFileT(t, filepath.Join(f.ws, "a/b/c.txt")) != "hello" {
		t.Fatal("content not written")
	}
	got = wantOK(t, run(t, w, f.ws, map[string]any{"path": "a/b/c.txt", "content": ""}))
	if !strings.Contains(got, "Overwrote") || readFileT(t, filepath.Join(f.ws, "a/b/c.txt")) != "" {
		t.Fatalf("overwrite = %q", got)
	}
	wantErr(t, run(t, w, f.ws, map[string]any{"path": "a/b/c.txt"}), "content is required")
	wantErr(t, run(t, w, f.ws, map[string]any{"path": "a/b", "content": "x"}), "is a directory")
	wantErr(t, run(t, w, f.ws, map[string]any{"path": ".", "content": "x"}), "workspace directory itself")
	wantErr(t, run(t, w, f.ws, map[string]any{"path": "a/b/c.txt/d", "content": "x"}))

	wantErr(t, run(t, w, f.ws, map[string]any{"path": "huge.txt", "content": strings.Repeat("x", WriteMaxBytes+1)}), "2 MiB")
	if _, err := os.Stat(filepath.Join(f.ws, "huge.txt")); err == nil {
		t.Fatal("oversized write created a file")
	}
	wantOK(t, run(t, w, f.ws, map[string]any{"path": "max.txt", "content": strings.Repeat("x", WriteMaxBytes)}))

	// An existing file keeps its mode.
	p := filepath.Join(f.ws, "script.sh")
	writeFileT(t, p, "#!/bin/sh\n")
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}
	wantOK(t, run(t, w, f.ws, map[string]any{"path": "script.sh", "content": "#!/bin/sh\necho hi\n"}))
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o755 {
		t.Fatalf("mode = %v", st.Mode())
	}
}

func TestEdit(t *testing.T) {
	f := newFS(t)
	p := filepath.Join(f.ws, "main.go")
	writeFileT(t, p, "package main\n\nfunc a() {}\nfunc b() {}\nfunc a2() {}\n")
	e := NewEdit()

	got := wantOK(t, run(t, e, f.ws, map[string]any{"path": "main.go", "oldText": "func b() {}", "newText": "func b() { return }"}))
	if !strings.Contains(got, "line 4") || !strings.Contains(readFileT(t, p), "func b() { return }\n") {
		t.Fatalf("edit = %q, file %q", got, readFileT(t, p))
	}
	before := readFileT(t, p)
	wantErr(t, run(t, e, f.ws, map[string]any{"path": "main.go", "oldText": "func a", "newText": "func z"}), "occurs 2 times")
	wantErr(t, run(t, e, f.ws, map[string]any{"path": "main.go", "oldText": "func c", "newText": "func z"}), "not found")
	wantErr(t, run(t, e, f.ws, map[string]any{"path": "main.go", "oldText": "", "newText": "x"}), "oldText is required")
	wantErr(t, run(t, e, f.ws, map[string]any{"path": "main.go", "oldText": "a()", "newText": "a()"}), "identical")
	wantErr(t, run(t, e, f.ws, map[string]any{"path": "main.go", "oldText": "a()"}), "newText is required")
	wantErr(t, run(t, e, f.ws, map[string]any{"path": "nope.go", "oldText": "a", "newText": "b"}), "does not exist")
	if readFileT(t, p) != before {
		t.Fatal("a refused edit changed the file")
	}
	// Deleting with an empty newText, and the old_string/new_string aliases.
	wantOK(t, run(t, e, f.ws, map[string]any{"path": "main.go", "old_string": "func a2() {}\n", "new_string": ""}))
	if strings.Contains(readFileT(t, p), "a2") {
		t.Fatal("delete did not apply")
	}

	// CRLF files match "\n" text and keep their line endings.
	crlf := filepath.Join(f.ws, "win.txt")
	writeFileT(t, crlf, "one\r\ntwo\r\nthree\r\n")
	wantOK(t, run(t, e, f.ws, map[string]any{"path": "win.txt", "oldText": "one\ntwo", "newText": "uno\ndos"}))
	if got := readFileT(t, crlf); got != "uno\r\ndos\r\nthree\r\n" {
		t.Fatalf("crlf = %q", got)
	}

	big := filepath.Join(f.ws, "big.txt")
	writeFileT(t, big, strings.Repeat("y", WriteMaxBytes)+"z")
	wantErr(t, run(t, e, f.ws, map[string]any{"path": "big.txt", "oldText": "z", "newText": "w"}), "2 MiB")
}

func TestLs(t *testing.T) {
	f := newFS(t)
	writeFileT(t, filepath.Join(f.ws, "b.txt"), "12345")
	writeFileT(t, filepath.Join(f.ws, "dir", "x"), "")
	mustSymlink(t, "b.txt", filepath.Join(f.ws, "a-link"))

	r := run(t, NewLs(), f.ws, map[string]any{})
	got := wantOK(t, r)
	lines := strings.Split(got, "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "3 entries") {
		t.Fatalf("ls = %q", got)
	}
	wantLine := func(i int, fields ...string) {
		t.Helper()
		if f := strings.Fields(lines[i]); strings.Join(f, " ") != strings.Join(fields, " ") {
			t.Fatalf("line %d = %q, want %q", i, lines[i], fields)
		}
	}
	wantLine(1, "symlink", "5", "a-link", "->", "b.txt")
	wantLine(2, "file", "5", "b.txt")
	wantLine(3, "dir", "-", "dir/")
	entries := r.Details.([]LsEntry)
	if len(entries) != 3 || entries[2] != (LsEntry{Name: "dir", Type: "dir"}) || entries[1].Size != 5 {
		t.Fatalf("details = %+v", entries)
	}

	got = wantOK(t, run(t, NewLs(), f.ws, map[string]any{"path": "dir"}))
	if !strings.Contains(got, "file") || !strings.Contains(got, " x") {
		t.Fatalf("ls dir = %q", got)
	}
	got = wantOK(t, run(t, NewLs(), f.ws, map[string]any{"path": "b.txt"}))
	if !strings.Contains(got, "b.txt") || !strings.Contains(got, "1 entries") {
		t.Fatalf("ls file = %q", got)
	}
	wantErr(t, run(t, NewLs(), f.ws, map[string]any{"path": "nope"}), "does not exist")
}
