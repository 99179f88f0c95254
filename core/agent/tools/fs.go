package tools

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pincerhq/pincer/core/agent/providers"
)

// Size caps of the workspace file tools.
const (
	ReadMaxBytes      = 256 << 10 // text returned by one read call
	ReadImageMaxBytes = 5 << 20   // an image read whole (providers refuse larger ones)
	WriteMaxBytes     = 2 << 20   // content of one write, and a file edit may rewrite
	lsMaxEntries      = 2000
)

// FileTools returns read, write, edit and ls.
func FileTools() []Tool { return []Tool{NewRead(), NewWrite(), NewEdit(), NewLs()} }

// Read is the `read` tool: a workspace text file by lines, or an image.
type Read struct{}

// NewRead returns the read tool.
func NewRead() *Read { return &Read{} }

// Spec implements Tool.
func (*Read) Spec() providers.Tool {
	return providers.Tool{
		Name: "read",
		Description: "Read a file in the agent workspace. Text comes back as is (up to 256 KiB per call); " +
			"page through long files with offset (1-based line to start at) and limit (number of lines). " +
			"PNG, JPEG, GIF and WebP images come back as images you can see. Paths are relative to the workspace.",
		Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "path": {"type": "string", "description": "File path, relative to the workspace (or absolute inside it)."},
    "offset": {"type": "integer", "minimum": 1, "description": "Line number to start reading at (1-based). Default 1."},
    "limit": {"type": "integer", "minimum": 1, "description": "Maximum number of lines to return. Default: as many as fit in 256 KiB."}
  },
  "required": ["path"],
  "additionalProperties": false
}`),
	}
}

// Run implements Tool.
func (*Read) Run(_ context.Context, call Call) (Result, error) {
	var a struct {
		Path     string `json:"path"`
		FilePath string `json:"file_path"`
		Offset   *int   `json:"offset"`
		Limit    *int   `json:"limit"`
	}
	if err := decodeArgs(call.Args, &a); err != nil {
		return argError("read", err), nil
	}
	path := firstNonEmpty(a.Path, a.FilePath)
	if path == "" {
		return Error("read: path is required"), nil
	}
	offset, limit := 1, 0
	if a.Offset != nil {
		if *a.Offset < 0 {
			return Error("read: offset must be a line number from 1"), nil
		}
		offset = max(*a.Offset, 1)
	}
	if a.Limit != nil {
		if *a.Limit < 1 {
			return Error("read: limit must be at least 1"), nil
		}
		limit = *a.Limit
	}
	p, err := resolveWorkspacePath(call.Workspace, path)
	if err != nil {
		return Error("read: " + err.Error()), nil
	}
	root, err := p.openRoot()
	if err != nil {
		return Error("read: " + err.Error()), nil
	}
	defer root.Close()
	// Stat before opening: opening a FIFO would block until a writer came.
	st, err := root.Stat(p.rel)
	if err != nil {
		return Error("read: " + fsError(p, err)), nil
	}
	if st.IsDir() {
		return Error(fmt.Sprintf("read: %s is a directory; use ls to list it", p.shown)), nil
	}
	if !st.Mode().IsRegular() {
		return Error(fmt.Sprintf("read: %s is not a regular file", p.shown)), nil
	}
	f, err := root.Open(p.rel)
	if err != nil {
		return Error("read: " + fsError(p, err)), nil
	}
	defer f.Close()

	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(512)
	if mt := imageMediaType(head); mt != "" {
		if st.Size() > ReadImageMaxBytes {
			return Error(fmt.Sprintf("read: %s is a %s image of %d bytes, over the %s image limit", p.shown, mt, st.Size(), sizeString(ReadImageMaxBytes))), nil
		}
		data, err := io.ReadAll(io.LimitReader(br, ReadImageMaxBytes+1))
		if err != nil {
			return Error("read: " + fsError(p, err)), nil
		}
		if len(data) > ReadImageMaxBytes {
			return Error(fmt.Sprintf("read: %s grew over the %s image limit while being read", p.shown, sizeString(ReadImageMaxBytes))), nil
		}
		return Result{
			Content: []providers.Part{
				{Type: "text", Text: fmt.Sprintf("Read image %s (%s, %d bytes)", p.shown, mt, len(data))},
				{Type: "image", MediaType: mt, Data: data},
			},
			Details: map[string]any{"path": p.shown, "mediaType": mt, "bytes": len(data)},
		}, nil
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return Error(fmt.Sprintf("read: %s looks binary (%s, %d bytes); read returns text files and PNG/JPEG/GIF/WebP images", p.shown, http.DetectContentType(head), st.Size())), nil
	}

	text, note, err := readLines(br, offset, limit, ReadMaxBytes)
	if err != nil {
		var past errPastEOF
		if errors.As(err, &past) {
			return Error(fmt.Sprintf("read: offset %d is past the end of %s (%d lines)", offset, p.shown, past.lines)), nil
		}
		return Error("read: " + fsError(p, err)), nil
	}
	if text == "" && note == "" {
		return Text(fmt.Sprintf("[%s is empty]", p.shown)), nil
	}
	text = strings.ToValidUTF8(text, "\uFFFD")
	if note != "" {
		sep := "\n\n"
		if strings.HasSuffix(text, "\n") {
			sep = "\n"
		}
		text += sep + "[" + note + "]"
	}
	return Text(text), nil
}

type errPastEOF struct{ lines int }

func (e errPastEOF) Error() string { return fmt.Sprintf("offset past end of file (%d lines)", e.lines) }

// readLines returns up to limit lines (0: no limit) from line offset on,
// at most maxBytes of them, and a note when more remains. Lines are read
// in bounded pieces so one enormous line cannot exhaust memory.
func readLines(br *bufio.Reader, offset, limit, maxBytes int) (string, string, error) {
	// Skip to the offset line.
	line := 1
	for line < offset {
		chunk, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if len(chunk) > 0 {
				line++ // a last line without a newline
			}
			return "", "", errPastEOF{lines: line - 1}
		}
		if err != nil {
			return "", "", err
		}
		line++
	}
	if offset > 1 {
		if _, err := br.Peek(1); err == io.EOF {
			return "", "", errPastEOF{lines: line - 1}
		}
	}

	var out []byte
	lastFull := 0 // length of out at the end of the last complete line
	taken := 0    // complete lines in out
	for limit == 0 || taken < limit {
		chunk, err := br.ReadSlice('\n')
		if len(out)+len(chunk) > maxBytes {
			room := maxBytes - len(out)
			if taken > 0 {
				out = out[:lastFull]
				end := offset + taken - 1
				return string(out), fmt.Sprintf("output truncated at %s: showed %s; continue with offset=%d",
					sizeString(int64(maxBytes)), lineRange(offset, end), end+1), nil
			}
			// A single line longer than the cap: show its head.
			out = append(out, cutUTF8(string(chunk), room)...)
			return string(out), fmt.Sprintf("line %d is longer than %s and was cut; continue with offset=%d",
				offset, sizeString(int64(maxBytes)), offset+1), nil
		}
		out = append(out, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			return string(out), "", nil
		}
		if err != nil {
			return "", "", err
		}
		taken++
		lastFull = len(out)
	}
	if _, err := br.Peek(1); err == nil {
		end := offset + taken - 1
		return string(out), fmt.Sprintf("showed %s; more follow, continue with offset=%d", lineRange(offset, end), end+1), nil
	}
	return string(out), "", nil
}

func lineRange(from, to int) string {
	if from == to {
		return fmt.Sprintf("line %d", from)
	}
	return fmt.Sprintf("lines %d-%d", from, to)
}

// imageMediaType recognizes the image formats providers accept.
func imageMediaType(head []byte) string {
	switch mt := http.DetectContentType(head); mt {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return mt
	}
	return ""
}

// Write is the `write` tool: create or replace a workspace file.
type Write struct{}

// NewWrite returns the write tool.
func NewWrite() *Write { return &Write{} }

// Spec implements Tool.
func (*Write) Spec() providers.Tool {
	return providers.Tool{
		Name: "write",
		Description: "Create a file in the agent workspace, or replace its whole content, creating parent directories as needed " +
			"(at most 2 MiB). To change part of an existing file use edit instead.",
		Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "path": {"type": "string", "description": "File path, relative to the workspace (or absolute inside it)."},
    "content": {"type": "string", "description": "The complete new content of the file."}
  },
  "required": ["path", "content"],
  "additionalProperties": false
}`),
	}
}

// Run implements Tool.
func (*Write) Run(_ context.Context, call Call) (Result, error) {
	var a struct {
		Path     string  `json:"path"`
		FilePath string  `json:"file_path"`
		Content  *string `json:"content"`
	}
	if err := decodeArgs(call.Args, &a); err != nil {
		return argError("write", err), nil
	}
	path := firstNonEmpty(a.Path, a.FilePath)
	if path == "" {
		return Error("write: path is required"), nil
	}
	if a.Content == nil {
		return Error("write: content is required (use \"\" for an empty file)"), nil
	}
	if len(*a.Content) > WriteMaxBytes {
		return Error(fmt.Sprintf("write: content is %d bytes, over the %s limit; write the file in smaller pieces or generate it with a command",
			len(*a.Content), sizeString(WriteMaxBytes))), nil
	}
	p, err := resolveWorkspacePath(call.Workspace, path)
	if err != nil {
		return Error("write: " + err.Error()), nil
	}
	if p.rel == "." {
		return Error("write: path names the workspace directory itself; give a file path"), nil
	}
	root, err := p.openRoot()
	if err != nil {
		return Error("write: " + err.Error()), nil
	}
	defer root.Close()
	created := false
	if st, err := root.Stat(p.rel); err == nil {
		if st.IsDir() {
			return Error(fmt.Sprintf("write: %s is a directory", p.shown)), nil
		}
		if !st.Mode().IsRegular() {
			return Error(fmt.Sprintf("write: %s is not a regular file", p.shown)), nil
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		created = true
		if dir := filepath.Dir(p.rel); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return Error("write: cannot create the parent directory: " + fsError(p, err)), nil
			}
		}
	} else {
		return Error("write: " + fsError(p, err)), nil
	}
	if err := writeFile(root, p.rel, []byte(*a.Content)); err != nil {
		return Error("write: " + fsError(p, err)), nil
	}
	verb := "Overwrote"
	if created {
		verb = "Created"
	}
	return Result{
		Content: []providers.Part{{Type: "text", Text: fmt.Sprintf("%s %s (%d bytes)", verb, p.shown, len(*a.Content))}},
		Details: map[string]any{"path": p.shown, "bytes": len(*a.Content), "created": created},
	}, nil
}

// writeFile replaces rel's content, keeping an existing file's mode.
func writeFile(root *os.Root, rel string, data []byte) error {
	f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Edit is the `edit` tool: replace one exact occurrence in a workspace file.
type Edit struct{}

// NewEdit returns the edit tool.
func NewEdit() *Edit { return &Edit{} }

// Spec implements Tool.
func (*Edit) Spec() providers.Tool {
	return providers.Tool{
		Name: "edit",
		Description: "Edit a file in the agent workspace by replacing oldText with newText. oldText must match the file exactly, " +
			"whitespace and indentation included, and occur exactly once: include enough surrounding lines to make it unique. " +
			"Read the file first. Files up to 2 MiB.",
		Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "path": {"type": "string", "description": "File path, relative to the workspace (or absolute inside it)."},
    "oldText": {"type": "string", "description": "Exact text to replace; must occur exactly once in the file."},
    "newText": {"type": "string", "description": "Replacement text (may be empty to delete oldText)."}
  },
  "required": ["path", "oldText", "newText"],
  "additionalProperties": false
}`),
	}
}

// Run implements Tool.
func (*Edit) Run(_ context.Context, call Call) (Result, error) {
	var a struct {
		Path      string  `json:"path"`
		FilePath  string  `json:"file_path"`
		OldText   *string `json:"oldText"`
		NewText   *string `json:"newText"`
		OldString *string `json:"old_string"`
		NewString *string `json:"new_string"`
	}
	if err := decodeArgs(call.Args, &a); err != nil {
		return argError("edit", err), nil
	}
	path := firstNonEmpty(a.Path, a.FilePath)
	if path == "" {
		return Error("edit: path is required"), nil
	}
	if a.OldText == nil {
		a.OldText = a.OldString
	}
	if a.NewText == nil {
		a.NewText = a.NewString
	}
	if a.OldText == nil || *a.OldText == "" {
		return Error("edit: oldText is required and may not be empty (to create a file use write)"), nil
	}
	if a.NewText == nil {
		return Error("edit: newText is required (use \"\" to delete oldText)"), nil
	}
	oldText, newText := *a.OldText, *a.NewText
	if oldText == newText {
		return Error("edit: oldText and newText are identical; nothing would change"), nil
	}
	p, err := resolveWorkspacePath(call.Workspace, path)
	if err != nil {
		return Error("edit: " + err.Error()), nil
	}
	root, err := p.openRoot()
	if err != nil {
		return Error("edit: " + err.Error()), nil
	}
	defer root.Close()
	st, err := root.Stat(p.rel)
	if err != nil {
		return Error("edit: " + fsError(p, err)), nil
	}
	if st.IsDir() || !st.Mode().IsRegular() {
		return Error(fmt.Sprintf("edit: %s is not a regular file", p.shown)), nil
	}
	if st.Size() > WriteMaxBytes {
		return Error(fmt.Sprintf("edit: %s is %d bytes, over the %s edit limit; change it with exec instead", p.shown, st.Size(), sizeString(WriteMaxBytes))), nil
	}
	data, err := root.ReadFile(p.rel)
	if err != nil {
		return Error("edit: " + fsError(p, err)), nil
	}
	content := string(data)

	n := strings.Count(content, oldText)
	// A model sends "\n" line endings; a CRLF file then matches nothing.
	// Retry with the file's line endings before reporting no match.
	if n == 0 && strings.Contains(content, "\r\n") && !strings.Contains(oldText, "\r\n") && strings.Contains(oldText, "\n") {
		crlfOld := strings.ReplaceAll(oldText, "\n", "\r\n")
		if c := strings.Count(content, crlfOld); c > 0 {
			n, oldText, newText = c, crlfOld, strings.ReplaceAll(strings.ReplaceAll(newText, "\r\n", "\n"), "\n", "\r\n")
		}
	}
	switch {
	case n == 0:
		return Error(fmt.Sprintf("edit: oldText was not found in %s; read the file and copy the exact text, whitespace and indentation included", p.shown)), nil
	case n > 1:
		return Error(fmt.Sprintf("edit: oldText occurs %d times in %s; include more surrounding lines so it matches exactly once", n, p.shown)), nil
	}
	i := strings.Index(content, oldText)
	updated := content[:i] + newText + content[i+len(oldText):]
	if len(updated) > WriteMaxBytes {
		return Error(fmt.Sprintf("edit: the edited file would be %d bytes, over the %s limit", len(updated), sizeString(WriteMaxBytes))), nil
	}
	if err := writeFile(root, p.rel, []byte(updated)); err != nil {
		return Error("edit: " + fsError(p, err)), nil
	}
	line := strings.Count(content[:i], "\n") + 1
	return Result{
		Content: []providers.Part{{Type: "text", Text: fmt.Sprintf("Edited %s: replaced 1 occurrence at line %d", p.shown, line)}},
		Details: map[string]any{"path": p.shown, "line": line},
	}, nil
}

// Ls is the `ls` tool: list a workspace directory.
type Ls struct{}

// NewLs returns the ls tool.
func NewLs() *Ls { return &Ls{} }

// LsEntry is one listed entry (the result's Details are a []LsEntry).
type LsEntry struct {
	Name   string `json:"name"`
	Type   string `json:"type"` // "file" | "dir" | "symlink" | "other"
	Size   int64  `json:"size"`
	Target string `json:"target,omitempty"` // a symlink's target
}

// Spec implements Tool.
func (*Ls) Spec() providers.Tool {
	return providers.Tool{
		Name:        "ls",
		Description: "List a directory in the agent workspace: each entry's type (file, dir, symlink), size in bytes and name. path defaults to the workspace root.",
		Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "path": {"type": "string", "description": "Directory, relative to the workspace (or absolute inside it). Default: the workspace root."}
  },
  "additionalProperties": false
}`),
	}
}

// Run implements Tool.
func (*Ls) Run(_ context.Context, call Call) (Result, error) {
	var a struct {
		Path string `json:"path"`
	}
	if err := decodeArgs(call.Args, &a); err != nil {
		return argError("ls", err), nil
	}
	p, err := resolveWorkspacePath(call.Workspace, a.Path)
	if err != nil {
		return Error("ls: " + err.Error()), nil
	}
	root, err := p.openRoot()
	if err != nil {
		return Error("ls: " + err.Error()), nil
	}
	defer root.Close()
	st, err := root.Lstat(p.rel)
	if err != nil {
		return Error("ls: " + fsError(p, err)), nil
	}
	var entries []LsEntry
	if !st.IsDir() {
		entries = []LsEntry{lsEntry(root, filepath.Dir(p.rel), st)}
		entries[0].Name = p.shown
	} else {
		dir, err := root.Open(p.rel)
		if err != nil {
			return Error("ls: " + fsError(p, err)), nil
		}
		des, err := dir.ReadDir(-1)
		dir.Close()
		if err != nil {
			return Error("ls: " + fsError(p, err)), nil
		}
		slices.SortFunc(des, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
		for _, de := range des {
			info, err := de.Info()
			if err != nil {
				continue // removed while listing
			}
			entries = append(entries, lsEntry(root, p.rel, info))
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d entries\n", p.shown, len(entries))
	shown := entries
	if len(shown) > lsMaxEntries {
		shown = shown[:lsMaxEntries]
	}
	for _, e := range shown {
		size := fmt.Sprint(e.Size)
		name := e.Name
		switch e.Type {
		case "dir":
			size, name = "-", name+"/"
		case "symlink":
			name += " -> " + e.Target
		}
		fmt.Fprintf(&b, "%-7s %10s  %s\n", e.Type, size, name)
	}
	if len(entries) > len(shown) {
		fmt.Fprintf(&b, "[%d more entries not shown]\n", len(entries)-len(shown))
	}
	return Result{
		Content: []providers.Part{{Type: "text", Text: strings.TrimRight(b.String(), "\n")}},
		Details: shown,
	}, nil
}

func lsEntry(root *os.Root, dir string, info fs.FileInfo) LsEntry {
	e := LsEntry{Name: info.Name(), Size: info.Size()}
	switch m := info.Mode(); {
	case m.IsDir():
		e.Type, e.Size = "dir", 0
	case m.IsRegular():
		e.Type = "file"
	case m&fs.ModeSymlink != 0:
		e.Type = "symlink"
		e.Target, _ = root.Readlink(filepath.Join(dir, info.Name()))
	default:
		e.Type = "other"
	}
	return e
}
