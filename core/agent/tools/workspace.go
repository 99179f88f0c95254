package tools

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// wsPath is a model-supplied path resolved inside the agent's workspace.
type wsPath struct {
	root  string // the workspace's real path (symlinks resolved)
	rel   string // the target relative to root, symlinks of its existing prefix resolved; "." is the root
	abs   string // root joined with rel
	shown string // the path as the model gave it, for messages
}

// resolveWorkspacePath confines p to the workspace. p may be relative to
// the workspace or absolute inside it. It is refused when it leaves the
// workspace lexically (absolute elsewhere, "../") or through a symlink: the
// longest existing prefix of the path is resolved with EvalSymlinks and must
// stay inside the workspace's real path. A dangling symlink is refused too,
// since writing through it would create its target wherever it points.
//
// The check is repeated by the kernel at use time: callers open rel through
// an os.Root of root, which refuses any component that escapes, so a symlink
// swapped in after this check cannot be followed out either.
func resolveWorkspacePath(workspace, p string) (wsPath, error) {
	if workspace == "" {
		return wsPath{}, errors.New("no workspace is configured for this agent")
	}
	if !filepath.IsAbs(workspace) {
		return wsPath{}, fmt.Errorf("the agent workspace %q is not an absolute path", workspace)
	}
	root, err := filepath.EvalSymlinks(workspace)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return wsPath{}, fmt.Errorf("the agent workspace %s does not exist", workspace)
		}
		return wsPath{}, fmt.Errorf("the agent workspace %s cannot be resolved: %v", workspace, err)
	}
	if strings.ContainsRune(p, 0) {
		return wsPath{}, errors.New("path contains a NUL byte")
	}
	shown := p
	if strings.TrimSpace(p) == "" {
		p, shown = ".", "."
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		return wsPath{}, fmt.Errorf("path %q: ~ is not expanded; give a path relative to the workspace", shown)
	}

	var rel string
	if filepath.IsAbs(p) {
		c := filepath.Clean(p)
		var ok bool
		if rel, ok = within(filepath.Clean(workspace), c); !ok {
			if rel, ok = within(root, c); !ok {
				return wsPath{}, fmt.Errorf("path %s is outside the workspace (%s); use a path inside it, relative paths resolve against it", shown, workspace)
			}
		}
	} else {
		rel = filepath.Clean(p)
		if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return wsPath{}, fmt.Errorf("path %s leaves the workspace through ..; paths must stay inside the workspace", shown)
		}
	}

	abs := filepath.Join(root, rel)
	existing, rest := abs, ""
	for existing != root {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = filepath.Dir(existing)
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return wsPath{}, fmt.Errorf("path %s goes through a symlink whose target does not exist", shown)
		}
		return wsPath{}, fmt.Errorf("path %s cannot be resolved: %v", shown, err)
	}
	real = filepath.Join(real, rest)
	realRel, ok := within(root, real)
	if !ok {
		return wsPath{}, fmt.Errorf("path %s resolves through a symlink to %s, outside the workspace; symlinks may not lead out of it", shown, real)
	}
	return wsPath{root: root, rel: realRel, abs: real, shown: shown}, nil
}

// within reports target's path relative to base when target is base or
// beneath it.
func within(base, target string) (string, bool) {
	rel, err := filepath.Rel(base, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}

// openRoot opens the workspace root for kernel-checked access to rel.
func (p wsPath) openRoot() (*os.Root, error) {
	r, err := os.OpenRoot(p.root)
	if err != nil {
		return nil, fmt.Errorf("cannot open the workspace: %v", err)
	}
	return r, nil
}

// fsError turns an OS error on p into a message that says what to do.
func fsError(p wsPath, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%s does not exist (paths are relative to the workspace; use ls to see what is there)", p.shown)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("%s: permission denied", p.shown)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s: %s failed: %v", p.shown, pe.Op, pe.Err)
	}
	return fmt.Sprintf("%s: %v", p.shown, err)
}
