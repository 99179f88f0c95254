package sessions

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// WorkspaceFiles are the files that shape an agent, in the order the system
// prompt includes them.
var WorkspaceFiles = []string{"IDENTITY.md", "SOUL.md", "AGENTS.md", "USER.md"}

// MaxWorkspaceFileBytes caps how much of one workspace file enters the
// system prompt; the rest is left out with a note.
const MaxWorkspaceFileBytes = 20 << 10

// seedFiles are the starting texts EnsureWorkspace writes. They are meant to
// be edited; the gateway never rewrites them.
var seedFiles = map[string]string{
	"IDENTITY.md": `# Identity

- Name: Assistant
- What you are: a personal assistant running on the user's own computer through
  the Pincer gateway, reachable from their chat apps and devices.

Edit this file to give the assistant another name, an emoji or a tagline.
`,
	"SOUL.md": `# Soul

- Be genuinely helpful: answer the question that was asked, then stop.
- Be direct and warm. Skip filler, flattery and long preambles.
- Say so when you are unsure or when you cannot do something, and suggest what
  would work instead.
- Keep private things private. Never share the user's data with anyone else.
- Match the medium: short replies in chat apps, more detail when asked.
`,
	"AGENTS.md": `# How to work

- This folder is your workspace. Files here persist between conversations;
  use them to keep notes the user asks you to remember.
- Before running a command or tool that changes something outside this
  workspace (sending messages, deleting files, spending money), say what you
  are about to do and ask first unless the user already told you to go ahead.
- Prefer small, reversible steps. Report what you did and what happened.
- When a task will take a while, say so and give progress.
`,
	"USER.md": `# About the user

Write anything the assistant should know about you here: your name, how you
like to be addressed, time zone, preferences, ongoing projects, people it may
hear about. The assistant reads this file at the start of every conversation.

- Name:
- Time zone:
- Notes:
`,
}

// EnsureWorkspace creates dir (0700) and writes the default workspace files
// that do not exist yet. It never overwrites a file, so edits survive.
func EnsureWorkspace(dir string) error {
	if strings.TrimSpace(dir) == "" {
		return errors.New("sessions: empty workspace directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create workspace %s: %w", dir, err)
	}
	for _, name := range WorkspaceFiles {
		path := filepath.Join(dir, name)
		// O_EXCL: a file the user created (even an empty one) wins, also
		// against a concurrent writer.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("seed workspace file %s: %w", path, err)
		}
		_, werr := f.WriteString(seedFiles[name])
		cerr := f.Close()
		if err := errors.Join(werr, cerr); err != nil {
			_ = os.Remove(path) // leave no half-written file to be kept forever
			return fmt.Errorf("seed workspace file %s: %w", path, err)
		}
	}
	return nil
}

// SystemPrompt is base followed by each workspace file in dir under a
// "## <FILE>" heading. Missing and blank files are skipped; a file over
// MaxWorkspaceFileBytes is cut at a character boundary and marked truncated.
func SystemPrompt(dir, base string) (string, error) {
	var b strings.Builder
	b.WriteString(strings.TrimRight(base, "\n"))
	for _, name := range WorkspaceFiles {
		text, size, err := readCapped(filepath.Join(dir, name), MaxWorkspaceFileBytes)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("read workspace file %s: %w", filepath.Join(dir, name), err)
		}
		shown := len(text)
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString("## " + name + "\n\n")
		b.WriteString(text)
		if size > int64(shown) {
			fmt.Fprintf(&b, "\n\n[%s truncated: showing the first %d of %d bytes; keep it under %d KiB]", name, shown, size, MaxWorkspaceFileBytes>>10)
		}
	}
	return b.String(), nil
}

// readCapped reads at most limit bytes of a regular file (cut back to a
// UTF-8 boundary) and returns its full size.
func readCapped(path string, limit int) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	if !st.Mode().IsRegular() {
		return "", 0, fmt.Errorf("not a regular file")
	}
	buf, err := io.ReadAll(io.LimitReader(f, int64(limit)))
	if err != nil {
		return "", 0, err
	}
	size := st.Size()
	if size > int64(len(buf)) && len(buf) == limit {
		// Drop a rune split by the cap.
		for i := 0; i < utf8.UTFMax && len(buf) > 0; i++ {
			r, n := utf8.DecodeLastRune(buf)
			if r != utf8.RuneError || n != 1 {
				break
			}
			buf = buf[:len(buf)-1]
		}
	}
	return string(buf), size, nil
}
