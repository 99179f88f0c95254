package sessions

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEnsureWorkspaceSeedsWithoutOverwriting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "workspace", "main")
	if err := EnsureWorkspace(dir); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		st, _ := os.Stat(dir)
		if st.Mode().Perm() != 0o700 {
			t.Errorf("dir mode %v", st.Mode().Perm())
		}
	}
	for _, name := range WorkspaceFiles {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 80 || !strings.HasPrefix(string(b), "# ") {
			t.Errorf("%s seed looks wrong: %q", name, b)
		}
	}

	// The user edits one file and empties another; a second run keeps both.
	edited := "# Soul\n\nTalk like a pirate.\n"
	if err := os.WriteFile(filepath.Join(dir, "SOUL.md"), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "USER.md"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "AGENTS.md")); err != nil {
		t.Fatal(err)
	}
	if err := EnsureWorkspace(dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "SOUL.md")); string(b) != edited {
		t.Fatalf("SOUL.md overwritten: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "USER.md")); len(b) != 0 {
		t.Fatalf("emptied USER.md refilled: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "AGENTS.md")); len(b) == 0 {
		t.Fatal("a missing file was not seeded again")
	}
	if err := EnsureWorkspace(" "); err == nil {
		t.Fatal("blank dir accepted")
	}
}

func TestSystemPrompt(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Only some files exist; USER.md is blank.
	write("SOUL.md", "Be kind.\n")
	write("AGENTS.md", "Ask before deleting.\n")
	write("USER.md", "  \n\n")
	got, err := SystemPrompt(dir, "You are Pincer.\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "You are Pincer.\n\n## SOUL.md\n\nBe kind.\n\n## AGENTS.md\n\nAsk before deleting."
	if got != want {
		t.Fatalf("prompt:\n%q\nwant\n%q", got, want)
	}

	// Nothing but the base when the workspace is empty or missing.
	if got, err := SystemPrompt(filepath.Join(dir, "nope"), "base"); err != nil || got != "base" {
		t.Fatalf("missing dir = %q, %v", got, err)
	}
	// No base: the first heading starts the prompt.
	if got, _ := SystemPrompt(dir, ""); !strings.HasPrefix(got, "## SOUL.md\n\nBe kind.") {
		t.Fatalf("no base = %q", got)
	}

	// An oversized file is cut at a character boundary with a note.
	big := strings.Repeat("é", MaxWorkspaceFileBytes) // 2 bytes each: twice the cap
	write("IDENTITY.md", "x"+big)                     // odd offset: the cap splits a rune
	got, err = SystemPrompt(dir, "base")
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.ValidString(got) {
		t.Fatal("truncation split a character")
	}
	head, rest, ok := strings.Cut(got, "## IDENTITY.md\n\n")
	if !ok || head != "base\n\n" {
		t.Fatalf("IDENTITY.md should come first: %q", got[:min(len(got), 80)])
	}
	body, _, _ := strings.Cut(rest, "\n\n## SOUL.md")
	if len(body) > MaxWorkspaceFileBytes+200 || !strings.Contains(body, "[IDENTITY.md truncated: showing the first 20479 of 40961 bytes; keep it under 20 KiB]") {
		t.Fatalf("truncated body is %d bytes, ends %q", len(body), body[max(0, len(body)-100):])
	}
	if !strings.Contains(got, "## SOUL.md\n\nBe kind.") {
		t.Fatal("files after a truncated one are missing")
	}

	// A directory where a file should be is an error, not silence.
	if err := os.Remove(filepath.Join(dir, "USER.md")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "USER.md"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := SystemPrompt(dir, "base"); err == nil || !strings.Contains(err.Error(), "USER.md") {
		t.Fatalf("directory as file: %v", err)
	}
}
