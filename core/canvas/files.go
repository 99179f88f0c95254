package canvas

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// documentsDir is the hosted documents' directory under the canvas root
// (and the path segment that serves them).
const documentsDir = "documents"

// maxInjectSize: larger HTML files are served without the reload script.
const maxInjectSize = 8 << 20

// contentTypes are fixed here so that serving does not depend on the host's
// mime database.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
	".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8", ".json": "application/json", ".map": "application/json",
	".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8", ".csv": "text/csv; charset=utf-8",
	".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif", ".ico": "image/x-icon",
	".wasm": "application/wasm", ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
	".mp4": "video/mp4", ".webm": "video/webm", ".mp3": "audio/mpeg", ".wav": "audio/wav", ".ogg": "audio/ogg",
	".pdf": "application/pdf", ".xml": "application/xml",
}

func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	return mime.TypeByExtension(ext)
}

// placeholder is an agent's first index.html.
const placeholder = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Canvas · %[1]s</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;min-height:100vh;display:grid;place-items:center;background:#f6f7f9;color:#222}
main{max-width:32rem;padding:2rem}code{background:#e8eaee;padding:.1em .3em;border-radius:4px}</style>
</head>
<body>
<main>
<h1>Canvas for agent %[1]s</h1>
<p>This page is empty. The agent can put HTML, CSS and JavaScript in <code>%[2]s</code>; the page reloads when they change.</p>
</main>
</body>
</html>
`

// dirFor is the directory a canvas path's first segments name: an agent's
// canvas or a hosted document. rest is the path inside it.
func (h *Host) dirFor(st settings, p string) (dir, key, rest string, ok bool) {
	first, rest, _ := strings.Cut(p, "/")
	if first == documentsDir {
		id, r, _ := strings.Cut(rest, "/")
		if !validID(id) {
			return "", "", "", false
		}
		return filepath.Join(st.root, documentsDir, id), "doc:" + id, r, true
	}
	if !h.agentKnown(first) {
		return "", "", "", false
	}
	return filepath.Join(st.root, first), "agent:" + first, rest, true
}

// AgentDir is an agent's canvas directory, created with a placeholder
// index.html when missing.
func (h *Host) AgentDir(agentID string) (string, error) {
	agentID = h.agentOrMain(agentID)
	if !h.agentKnown(agentID) {
		return "", fmt.Errorf("unknown agent id %q", agentID)
	}
	dir := filepath.Join(h.settings().root, agentID)
	return dir, ensureAgentDir(dir, agentID)
}

func ensureAgentDir(dir, agentID string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	body := fmt.Sprintf(placeholder, html.EscapeString(agentID), html.EscapeString(filepath.Join(dir, "index.html")))
	f, err := os.OpenFile(filepath.Join(dir, "index.html"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_, werr := f.WriteString(body)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}

// cleanRel checks a request path inside a canvas directory: no ".", ".."
// or empty segments (except a trailing slash), no backslash or NUL.
func cleanRel(p string) (string, bool) {
	if strings.ContainsAny(p, "\\\x00") {
		return "", false
	}
	trimmed := strings.TrimSuffix(p, "/")
	if trimmed == "" {
		return ".", true
	}
	for _, seg := range strings.Split(trimmed, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", false
		}
	}
	if !filepath.IsLocal(filepath.FromSlash(trimmed)) {
		return "", false
	}
	return filepath.FromSlash(trimmed), true
}

// serveCanvas serves /__openclaw__/canvas/<p> (p is after the prefix).
func (h *Host) serveCanvas(w http.ResponseWriter, r *http.Request, p string, acc access) {
	if p == "_events" {
		h.serveReloadEvents(w, r, acc)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed")
		return
	}
	// The raw path must not hide separators or dot segments behind
	// escapes either (%2f, %2e%2e): the decoded path is what is checked,
	// and an escaped slash is refused outright.
	if strings.Contains(strings.ToLower(r.URL.RawPath), "%2f") || strings.Contains(strings.ToLower(r.URL.RawPath), "%5c") {
		writeError(w, http.StatusNotFound, "not_found", "Not Found")
		return
	}
	st := h.settings()
	dir, key, rest, ok := h.dirFor(st, p)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "Not Found")
		return
	}
	first, _, hasSlash := strings.Cut(p, "/")
	if !hasSlash || (first == documentsDir && !strings.Contains(strings.TrimPrefix(p, documentsDir+"/"), "/")) {
		redirect(w, r, escapedPath(acc.prefix+CanvasPrefix+p+"/"))
		return
	}
	rel, ok := cleanRel(rest)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "Not Found")
		return
	}
	if strings.HasPrefix(key, "agent:") {
		if err := ensureAgentDir(dir, strings.TrimPrefix(key, "agent:")); err != nil {
			h.log.Warn("canvas directory", "dir", dir, "err", err)
			writeError(w, http.StatusInternalServerError, "internal", "The canvas directory cannot be created")
			return
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "Not Found")
		return
	}
	defer root.Close()
	f, fi, err := openIn(root, rel)
	if err == nil && fi.IsDir() {
		if !strings.HasSuffix(rest, "/") && rest != "" {
			f.Close()
			redirect(w, r, escapedPath(acc.prefix+CanvasPrefix+p+"/"))
			return
		}
		f.Close()
		rel = filepath.Join(rel, "index.html")
		f, fi, err = openIn(root, rel)
		if err == nil && fi.IsDir() {
			f.Close()
			err = fs.ErrNotExist
		}
	}
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "Not Found")
		return
	}
	defer f.Close()
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Referrer-Policy", "no-referrer")
	ct := contentType(fi.Name())
	if ct != "" {
		hdr.Set("Content-Type", ct)
		hdr.Set("X-Content-Type-Options", "nosniff")
	}
	if st.liveReload && strings.HasPrefix(ct, "text/html") && fi.Size() <= maxInjectSize {
		body, err := io.ReadAll(io.LimitReader(f, maxInjectSize+1))
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "The file cannot be read")
			return
		}
		kind, id, _ := strings.Cut(key, ":")
		events := acc.prefix + CanvasPrefix + "_events?" + url.Values{kind: {id}}.Encode()
		body = injectReload(body, events)
		http.ServeContent(w, r, "", fi.ModTime(), bytes.NewReader(body))
		return
	}
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// escapedPath escapes a decoded path for a Location header.
func escapedPath(p string) string { return (&url.URL{Path: p}).EscapedPath() }

// openIn opens a file inside root (symlinks leaving it fail).
func openIn(root *os.Root, rel string) (*os.File, fs.FileInfo, error) {
	f, err := root.Open(rel)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		f.Close()
		return nil, nil, fs.ErrNotExist
	}
	return f, fi, nil
}

// reloadScript listens for changes and reloads the page.
const reloadScript = `<script data-pincer-live-reload>(()=>{try{const es=new EventSource(%s);` +
	`es.addEventListener("reload",()=>location.reload());}catch(e){}})();</script>`

// injectReload puts the live-reload script before the last </body> (or at
// the end).
func injectReload(body []byte, eventsURL string) []byte {
	script := fmt.Sprintf(reloadScript, strconv.Quote(eventsURL))
	i := bytes.LastIndex(bytes.ToLower(body), []byte("</body>"))
	if i < 0 {
		return append(body, script...)
	}
	out := make([]byte, 0, len(body)+len(script))
	out = append(out, body[:i]...)
	out = append(out, script...)
	return append(out, body[i:]...)
}
