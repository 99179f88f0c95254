package telegram

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/pincerhq/pincer/core/channels/channel"
)

// toInbound normalizes a message update; ok is false for updates that carry
// no message the plugin understands and for service messages (members
// joining, topics created, pins …) that have nothing to read.
func (p *Plugin) toInbound(ctx context.Context, u *models.Update, me *models.User) (channel.Inbound, bool) {
	var msg *models.Message
	edited := false
	switch {
	case u.Message != nil:
		msg = u.Message
	case u.EditedMessage != nil:
		msg, edited = u.EditedMessage, true
	case u.ChannelPost != nil:
		msg = u.ChannelPost
	case u.EditedChannelPost != nil:
		msg, edited = u.EditedChannelPost, true
	default:
		return channel.Inbound{}, false
	}
	if me == nil {
		me = &models.User{}
	}
	in := channel.Inbound{
		Channel: ChannelID, AccountID: p.cfg.AccountID, MessageID: strconv.Itoa(msg.ID),
		EventID: strconv.FormatInt(u.ID, 10),
		Edited:  edited, Time: time.Unix(int64(msg.Date), 0), Raw: u,
	}
	if edited && msg.EditDate != 0 {
		in.Time = time.Unix(int64(msg.EditDate), 0)
	}

	chatID := strconv.FormatInt(msg.Chat.ID, 10)
	isDM := false
	switch msg.Chat.Type {
	case models.ChatTypePrivate:
		isDM = true
		in.Peer = channel.Peer{Kind: channel.PeerDirect, ID: chatID}
		// Threaded DMs exist only for bots with topics enabled.
		if me.HasTopicsEnabled && msg.MessageThreadID != 0 {
			in.Peer.ThreadID, in.Peer.TopicKind = strconv.Itoa(msg.MessageThreadID), "topic"
			in.ParentPeer = &channel.Peer{Kind: channel.PeerDirect, ID: chatID}
		}
	case models.ChatTypeGroup, models.ChatTypeSupergroup:
		in.Peer = channel.Peer{Kind: channel.PeerGroup, ID: chatID}
		if msg.Chat.IsForum {
			// Messages in the General topic carry no thread id; it is 1.
			tid := msg.MessageThreadID
			if !msg.IsTopicMessage || tid == 0 {
				tid = 1
			}
			in.Peer.ThreadID, in.Peer.TopicKind = strconv.Itoa(tid), "topic"
			in.ParentPeer = &channel.Peer{Kind: channel.PeerGroup, ID: chatID}
		}
	case models.ChatTypeChannel:
		in.Peer = channel.Peer{Kind: channel.PeerChannel, ID: chatID}
	default:
		return channel.Inbound{}, false
	}

	switch {
	case msg.SenderChat != nil:
		// Sent on behalf of a chat (channel posts, anonymous admins, linked
		// channels); `from` then holds a placeholder bot user.
		in.Sender = channel.Sender{ID: strconv.FormatInt(msg.SenderChat.ID, 10), Username: msg.SenderChat.Username,
			DisplayName: msg.SenderChat.Title}
	case msg.From != nil:
		in.Sender = channel.Sender{
			ID: strconv.FormatInt(msg.From.ID, 10), Username: msg.From.Username,
			DisplayName: strings.TrimSpace(msg.From.FirstName + " " + msg.From.LastName),
			IsBot:       msg.From.IsBot, IsSelf: me.ID != 0 && msg.From.ID == me.ID,
		}
	}

	reply := msg.ReplyToMessage
	if reply != nil && msg.Chat.IsForum && reply.ID == msg.MessageThreadID {
		reply = nil // the topic's root service message, not a real reply
	}
	if reply != nil {
		in.ReplyToID = strconv.Itoa(reply.ID)
	}

	text, entities := msg.Text, msg.Entities
	if text == "" {
		text, entities = msg.Caption, msg.CaptionEntities
	}
	in.Text = text
	refs := mediaRefs(msg, p.cfg.MaxMediaBytes)
	if in.Text == "" {
		in.Text = describe(msg)
	}
	if in.Text == "" && len(refs) == 0 {
		return channel.Inbound{}, false
	}
	in.Mentioned = isDM || mentions(text, entities, me) ||
		(reply != nil && reply.From != nil && me.ID != 0 && reply.From.ID == me.ID)

	var notes []string
	for _, ref := range refs {
		m, note := p.download(ctx, ref, chatID, msg.ID)
		if m != nil {
			in.Media = append(in.Media, *m)
		}
		if note != "" {
			notes = append(notes, note)
		}
	}
	if len(notes) > 0 {
		in.Text = strings.TrimSpace(strings.Join(append([]string{in.Text}, notes...), "\n"))
	}
	return in, true
}

// describe stands in for the text of a message that has none and no media
// the plugin downloads.
func describe(msg *models.Message) string {
	switch {
	case msg.Sticker != nil:
		if msg.Sticker.Emoji != "" {
			return msg.Sticker.Emoji
		}
		return "[sticker]"
	case msg.Venue != nil:
		return fmt.Sprintf("[venue: %s, %s (%.6f, %.6f)]", msg.Venue.Title, msg.Venue.Address,
			msg.Venue.Location.Latitude, msg.Venue.Location.Longitude)
	case msg.Location != nil:
		return fmt.Sprintf("[location: %.6f, %.6f]", msg.Location.Latitude, msg.Location.Longitude)
	case msg.Contact != nil:
		c := msg.Contact
		return "[contact: " + strings.Join(strings.Fields(c.FirstName+" "+c.LastName+" "+c.PhoneNumber), " ") + "]"
	case msg.Poll != nil:
		return "[poll: " + msg.Poll.Question + "]"
	}
	return ""
}

// mentions reports whether the entities address the bot (@username, a
// text mention of the bot, or /command@username).
func mentions(text string, entities []models.MessageEntity, me *models.User) bool {
	if me == nil || (me.Username == "" && me.ID == 0) {
		return false
	}
	var units []uint16
	for _, e := range entities {
		switch e.Type {
		case models.MessageEntityTypeMention, models.MessageEntityTypeBotCommand:
			if me.Username == "" {
				continue
			}
			if units == nil {
				units = utf16.Encode([]rune(text))
			}
			if e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > len(units) {
				continue
			}
			s := string(utf16.Decode(units[e.Offset : e.Offset+e.Length]))
			if e.Type == models.MessageEntityTypeMention {
				if strings.EqualFold(s, "@"+me.Username) {
					return true
				}
			} else if i := strings.IndexByte(s, '@'); i >= 0 && strings.EqualFold(s[i+1:], me.Username) {
				return true
			}
		case models.MessageEntityTypeTextMention:
			if e.User != nil && me.ID != 0 && e.User.ID == me.ID {
				return true
			}
		}
	}
	return false
}

// mediaRef is a downloadable attachment of a message.
type mediaRef struct {
	kind, fileID, uniqueID, mime, name string
	size                               int64
	ext                                string // default extension
}

// mediaRefs lists a message's attachments. For photos it picks the largest
// size that fits under max (or the largest, to be reported as oversize).
func mediaRefs(msg *models.Message, maxBytes int64) []mediaRef {
	var refs []mediaRef
	if n := len(msg.Photo); n > 0 {
		pick := msg.Photo[n-1]
		for i := n - 1; i >= 0; i-- {
			if int64(msg.Photo[i].FileSize) <= maxBytes {
				pick = msg.Photo[i]
				break
			}
		}
		refs = append(refs, mediaRef{kind: "image", fileID: pick.FileID, uniqueID: pick.FileUniqueID,
			mime: "image/jpeg", size: int64(pick.FileSize), ext: ".jpg"})
	}
	if v := msg.Voice; v != nil {
		refs = append(refs, mediaRef{kind: "voice", fileID: v.FileID, uniqueID: v.FileUniqueID,
			mime: orDefault(v.MimeType, "audio/ogg"), size: v.FileSize, ext: ".ogg"})
	}
	if a := msg.Audio; a != nil {
		refs = append(refs, mediaRef{kind: "audio", fileID: a.FileID, uniqueID: a.FileUniqueID,
			mime: a.MimeType, name: a.FileName, size: a.FileSize})
	}
	if v := msg.Video; v != nil {
		refs = append(refs, mediaRef{kind: "video", fileID: v.FileID, uniqueID: v.FileUniqueID,
			mime: orDefault(v.MimeType, "video/mp4"), name: v.FileName, size: v.FileSize, ext: ".mp4"})
	}
	if d := msg.Document; d != nil {
		refs = append(refs, mediaRef{kind: "document", fileID: d.FileID, uniqueID: d.FileUniqueID,
			mime: d.MimeType, name: d.FileName, size: d.FileSize})
	}
	return refs
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// download fetches an attachment into MediaDir. It returns the media, or a
// note for the message text when it was skipped (too large) or failed.
func (p *Plugin) download(ctx context.Context, ref mediaRef, chatID string, msgID int) (*channel.Media, string) {
	limit := p.cfg.MaxMediaBytes
	if ref.size > limit {
		return nil, oversizeNote(ref.kind, ref.size, limit)
	}
	ctx, cancel := withDefaultTimeout(ctx, callTimeout)
	defer cancel()
	f, err := p.bot.GetFile(ctx, &bot.GetFileParams{FileID: ref.fileID})
	if err != nil {
		if errors.Is(err, bot.ErrorBadRequest) && strings.Contains(strings.ToLower(err.Error()), "too big") {
			return nil, oversizeNote(ref.kind, 0, limit)
		}
		p.log.Warn("telegram: getFile failed", "kind", ref.kind, "err", err)
		return nil, failedNote(ref.kind)
	}
	if f.FileSize > limit {
		return nil, oversizeNote(ref.kind, f.FileSize, limit)
	}
	if f.FilePath == "" {
		p.log.Warn("telegram: getFile returned no file_path", "kind", ref.kind)
		return nil, failedNote(ref.kind)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.bot.FileDownloadLink(f), nil)
	if err != nil {
		p.log.Warn("telegram: bad file path", "kind", ref.kind, "err", p.redact(err))
		return nil, failedNote(ref.kind)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		p.log.Warn("telegram: file download failed", "kind", ref.kind, "err", p.redact(err))
		return nil, failedNote(ref.kind)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		p.log.Warn("telegram: file download failed", "kind", ref.kind, "status", resp.StatusCode)
		return nil, failedNote(ref.kind)
	}
	if resp.ContentLength > limit {
		return nil, oversizeNote(ref.kind, resp.ContentLength, limit)
	}

	if err := os.MkdirAll(p.cfg.MediaDir, 0o700); err != nil {
		p.log.Error("telegram: media dir", "err", err)
		return nil, failedNote(ref.kind)
	}
	tmp, err := os.CreateTemp(p.cfg.MediaDir, ".download-*")
	if err != nil {
		p.log.Error("telegram: media file", "err", err)
		return nil, failedNote(ref.kind)
	}
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, limit+1))
	cerr := tmp.Close()
	if err == nil {
		err = cerr
	}
	if err != nil || n > limit {
		_ = os.Remove(tmp.Name())
		if err == nil {
			return nil, oversizeNote(ref.kind, n, limit)
		}
		p.log.Warn("telegram: file download failed", "kind", ref.kind, "err", p.redact(err))
		return nil, failedNote(ref.kind)
	}

	ext := strings.ToLower(filepath.Ext(ref.name))
	if ext == "" {
		ext = strings.ToLower(path.Ext(f.FilePath))
	}
	if ext == "" {
		ext = ref.ext
	}
	if ext == "" {
		ext = extFor(ref.mime)
	}
	uid := ref.uniqueID
	if uid == "" {
		uid = strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	name := safeName(fmt.Sprintf("%s_%d_%s", chatID, msgID, uid)) + safeExt(ext)
	dst := filepath.Join(p.cfg.MediaDir, name)
	if err := os.Rename(tmp.Name(), dst); err != nil {
		_ = os.Remove(tmp.Name())
		p.log.Error("telegram: media file", "err", err)
		return nil, failedNote(ref.kind)
	}
	mt := ref.mime
	if mt == "" {
		mt = sniff(dst)
	}
	fileName := ref.name
	if fileName == "" {
		fileName = name
	}
	return &channel.Media{Kind: ref.kind, MimeType: mt, FileName: fileName, Path: dst, Size: n}, ""
}

// commonExt picks the usual extension where mime lists several in
// alphabetical order (video/mp4 → .f4v first).
var commonExt = map[string]string{
	"audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/ogg": ".ogg", "image/jpeg": ".jpg",
	"video/mp4": ".mp4", "video/quicktime": ".mov", "text/plain": ".txt",
}

func extFor(mimeType string) string {
	mt, _, _ := mime.ParseMediaType(mimeType)
	if ext, ok := commonExt[mt]; ok {
		return ext
	}
	if exts, _ := mime.ExtensionsByType(mt); len(exts) > 0 {
		return exts[0]
	}
	return ""
}

func sniff(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, 512)
	n, _ := io.ReadFull(f, buf)
	return http.DetectContentType(buf[:n])
}

// safeName keeps [A-Za-z0-9._-] and replaces the rest, so names cannot
// leave MediaDir.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return strings.TrimLeft(string(b), ".")
}

// safeExt keeps a short alphanumeric extension (with its dot).
func safeExt(ext string) string {
	ext = strings.TrimPrefix(ext, ".")
	if ext == "" || len(ext) > 10 {
		return ""
	}
	for _, c := range ext {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return "." + ext
}

func oversizeNote(kind string, size, limit int64) string {
	if size > 0 {
		return fmt.Sprintf("[telegram %s not downloaded: %s exceeds the %s limit]", kind, humanSize(size), humanSize(limit))
	}
	return fmt.Sprintf("[telegram %s not downloaded: larger than the %s limit]", kind, humanSize(limit))
}

func failedNote(kind string) string {
	return fmt.Sprintf("[telegram %s could not be downloaded]", kind)
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
