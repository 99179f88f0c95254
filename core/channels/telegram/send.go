package telegram

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/channels/format"
)

// target is where a message goes.
type target struct {
	chat any // int64 chat id or "@channelusername"
	// thread is the message_thread_id for sends (0 for the General topic,
	// which Telegram rejects); typingThread keeps it for chat actions.
	thread, typingThread int
}

func parseTarget(to channel.Peer) (target, error) {
	var t target
	id := strings.TrimSpace(to.ID)
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		t.chat = n
	} else if len(id) > 1 && id[0] == '@' {
		t.chat = id
	} else {
		return t, fmt.Errorf("telegram: invalid chat id %q", to.ID)
	}
	if to.ThreadID != "" {
		n, err := strconv.Atoi(to.ThreadID)
		if err != nil || n < 0 {
			return t, fmt.Errorf("telegram: invalid thread id %q", to.ThreadID)
		}
		t.thread, t.typingThread = n, n
		if n == 1 && to.Kind != channel.PeerDirect {
			t.thread = 0 // General forum topic
		}
	}
	return t, nil
}

// Send delivers Markdown text as Telegram HTML, split into messages that
// each show at most TextLimit() UTF-16 code units (Telegram's measure),
// and media: images via sendPhoto, voice notes via sendVoice, audio via
// sendAudio, video via sendVideo, anything else via sendDocument, each
// from a local Path (uploaded) or a URL. When the text fits in a caption
// (1024) it rides on the first attachment; longer text follows the
// attachments as messages. The reply goes on the first message only;
// every message goes to the topic. Delivery.MessageID is the first
// message's id. A failure part-way returns what was delivered so far with
// the error.
func (p *Plugin) Send(ctx context.Context, msg channel.Outbound) (channel.Delivery, error) {
	t, err := parseTarget(msg.To)
	if err != nil {
		return channel.Delivery{}, channel.Permanent(err)
	}
	replyTo := 0
	if msg.ReplyToID != "" {
		if replyTo, err = strconv.Atoi(msg.ReplyToID); err != nil {
			return channel.Delivery{}, channel.Permanent(fmt.Errorf("telegram: invalid reply-to message id %q", msg.ReplyToID))
		}
	}
	text := strings.TrimRight(strings.TrimLeft(msg.Text, "\n"), " \t\r\n")
	if strings.TrimSpace(text) == "" {
		text = ""
	}
	if text == "" && len(msg.Media) == 0 {
		return channel.Delivery{}, channel.Permanent(errors.New("telegram: nothing to send"))
	}
	ctx, cancel := withDefaultTimeout(ctx, callTimeout)
	defer cancel()

	d := channel.Delivery{ChatID: msg.To.ID}
	sent := func(m *models.Message) {
		if m != nil && d.MessageID == "" {
			d.MessageID = strconv.Itoa(m.ID)
		}
	}
	reply := func() *models.ReplyParameters {
		if replyTo == 0 || d.MessageID != "" {
			return nil
		}
		return &models.ReplyParameters{MessageID: replyTo, AllowSendingWithoutReply: true}
	}

	caption := ""
	if len(msg.Media) > 0 && text != "" && shownLen(text) <= CaptionLimit {
		caption, text = text, ""
	}
	var steps []func() (*models.Message, error)
	for i, media := range msg.Media {
		c := ""
		if i == 0 {
			c = caption
		}
		steps = append(steps, func() (*models.Message, error) { return p.sendMedia(ctx, t, media, c, reply(), msg.Silent) })
	}
	if text != "" {
		for _, chunk := range splitText(text, p.cfg.TextChunkLimit) {
			steps = append(steps, func() (*models.Message, error) { return p.sendText(ctx, t, chunk, reply(), msg.Silent) })
		}
	}
	// A retry of a message that failed part-way skips the parts already
	// delivered, so a rate limit on the third chunk does not repeat the
	// first two.
	key := progressKey(msg)
	done, first := p.progressOf(key)
	if first != "" {
		d.MessageID = first
	}
	for i := done; i < len(steps); i++ {
		m, err := steps[i]()
		if err != nil {
			p.setProgress(key, i, d.MessageID)
			return d, err
		}
		sent(m)
	}
	p.setProgress(key, -1, "")
	return d, nil
}

// maxProgress bounds the remembered part-way deliveries.
const maxProgress = 1024

// progressKey identifies an outbound message across retries.
func progressKey(msg channel.Outbound) string {
	b, _ := json.Marshal(msg)
	sum := sha256.Sum256(b)
	return string(sum[:])
}

func (p *Plugin) progressOf(key string) (int, string) {
	p.progMu.Lock()
	defer p.progMu.Unlock()
	pr := p.progress[key]
	return pr.done, pr.first
}

// setProgress records that done parts of a message went out (done < 0:
// all of them; forget it).
func (p *Plugin) setProgress(key string, done int, first string) {
	p.progMu.Lock()
	defer p.progMu.Unlock()
	if done <= 0 {
		delete(p.progress, key)
		return
	}
	if p.progress == nil {
		p.progress = map[string]sendProgress{}
	}
	if len(p.progress) >= maxProgress {
		for k := range p.progress {
			delete(p.progress, k)
			break
		}
	}
	p.progress[key] = sendProgress{done: done, first: first}
}

type sendProgress struct {
	done  int
	first string
}

func (p *Plugin) sendText(ctx context.Context, t target, chunk string, reply *models.ReplyParameters, silent bool) (*models.Message, error) {
	params := &bot.SendMessageParams{ChatID: t.chat, MessageThreadID: t.thread, Text: format.TelegramHTML(chunk),
		ParseMode: models.ParseModeHTML, ReplyParameters: reply, DisableNotification: silent}
	if p.cfg.DisableLinkPreview {
		params.LinkPreviewOptions = &models.LinkPreviewOptions{IsDisabled: bot.True()}
	}
	m, err := p.bot.SendMessage(ctx, params)
	if err != nil && isParseError(err) {
		// Our HTML was refused: fall back to the plain text.
		p.log.Warn("telegram refused the HTML; sending plain text", "err", err)
		params.Text, params.ParseMode = format.PlainText(chunk), ""
		m, err = p.bot.SendMessage(ctx, params)
	}
	if err != nil {
		return nil, sendError("sendMessage", err)
	}
	return m, nil
}

func isParseError(err error) bool {
	return errors.Is(err, bot.ErrorBadRequest) && strings.Contains(err.Error(), "can't parse entities")
}

// mediaMethod is the Bot API method that sends a kind of media.
func mediaMethod(kind string) string {
	switch kind {
	case "image":
		return "sendPhoto"
	case "voice":
		return "sendVoice"
	case "audio":
		return "sendAudio"
	case "video":
		return "sendVideo"
	}
	return "sendDocument"
}

func (p *Plugin) sendMedia(ctx context.Context, t target, media channel.Media, caption string, reply *models.ReplyParameters, silent bool) (*models.Message, error) {
	method := mediaMethod(media.Kind)
	html, mode := "", models.ParseMode("")
	if caption != "" {
		html, mode = format.TelegramHTML(caption), models.ParseModeHTML
	}
	m, err := p.sendMediaOnce(ctx, method, t, media, html, mode, reply, silent)
	if err != nil && mode != "" && isParseError(err) {
		p.log.Warn("telegram refused the caption HTML; sending plain text", "err", err)
		m, err = p.sendMediaOnce(ctx, method, t, media, format.PlainText(caption), "", reply, silent)
	}
	var se *channel.SendError
	if err != nil && !errors.As(err, &se) {
		err = sendError(method, err)
	}
	return m, err
}

// sendMediaOnce makes one send call; a local file is opened for each call,
// since an upload consumes it.
func (p *Plugin) sendMediaOnce(ctx context.Context, method string, t target, media channel.Media, caption string,
	mode models.ParseMode, reply *models.ReplyParameters, silent bool) (*models.Message, error) {
	var file models.InputFile
	switch {
	case media.Path != "":
		f, err := os.Open(media.Path)
		if err != nil {
			return nil, channel.Permanent(fmt.Errorf("telegram: attachment: %w", err))
		}
		defer f.Close()
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			return nil, channel.Permanent(fmt.Errorf("telegram: attachment %s is not a regular file", media.Path))
		}
		name := media.FileName
		if name == "" {
			name = filepath.Base(media.Path)
		}
		file = &models.InputFileUpload{Filename: name, Data: f}
	case media.URL != "":
		file = &models.InputFileString{Data: media.URL}
	default:
		return nil, channel.Permanent(errors.New("telegram: attachment has neither a path nor a URL"))
	}
	switch method {
	case "sendPhoto":
		return p.bot.SendPhoto(ctx, &bot.SendPhotoParams{ChatID: t.chat, MessageThreadID: t.thread, Photo: file,
			Caption: caption, ParseMode: mode, ReplyParameters: reply, DisableNotification: silent})
	case "sendVoice":
		return p.bot.SendVoice(ctx, &bot.SendVoiceParams{ChatID: t.chat, MessageThreadID: t.thread, Voice: file,
			Caption: caption, ParseMode: mode, ReplyParameters: reply, DisableNotification: silent})
	case "sendAudio":
		return p.bot.SendAudio(ctx, &bot.SendAudioParams{ChatID: t.chat, MessageThreadID: t.thread, Audio: file,
			Caption: caption, ParseMode: mode, ReplyParameters: reply, DisableNotification: silent})
	case "sendVideo":
		return p.bot.SendVideo(ctx, &bot.SendVideoParams{ChatID: t.chat, MessageThreadID: t.thread, Video: file,
			Caption: caption, ParseMode: mode, ReplyParameters: reply, DisableNotification: silent})
	}
	return p.bot.SendDocument(ctx, &bot.SendDocumentParams{ChatID: t.chat, MessageThreadID: t.thread, Document: file,
		Caption: caption, ParseMode: mode, ReplyParameters: reply, DisableNotification: silent})
}

// React sets our reaction on a message (emoji != "") or clears it
// (emoji == "").
func (p *Plugin) React(ctx context.Context, to channel.Peer, messageID, emoji string) error {
	t, err := parseTarget(to)
	if err != nil {
		return channel.Permanent(err)
	}
	id, err := strconv.Atoi(strings.TrimSpace(messageID))
	if err != nil || id <= 0 {
		return channel.Permanent(fmt.Errorf("telegram: invalid message id %q", messageID))
	}
	// An explicit empty list clears our reaction.
	reaction := []models.ReactionType{}
	if emoji != "" {
		reaction = append(reaction, models.ReactionType{Type: models.ReactionTypeTypeEmoji,
			ReactionTypeEmoji: &models.ReactionTypeEmoji{Emoji: emoji}})
	}
	ctx, cancel := withDefaultTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := p.bot.SetMessageReaction(ctx, &bot.SetMessageReactionParams{ChatID: t.chat, MessageID: id, Reaction: reaction}); err != nil {
		return sendError("setMessageReaction", err)
	}
	return nil
}

// Typing shows "typing…" in the chat (and topic, including General).
func (p *Plugin) Typing(ctx context.Context, to channel.Peer) error {
	t, err := parseTarget(to)
	if err != nil {
		return channel.Permanent(err)
	}
	ctx, cancel := withDefaultTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := p.bot.SendChatAction(ctx, &bot.SendChatActionParams{ChatID: t.chat, MessageThreadID: t.typingThread,
		Action: models.ChatActionTyping}); err != nil {
		return sendError("sendChatAction", err)
	}
	return nil
}

// sendError classifies a Bot API failure: 429 is transient with its
// retry_after; 400/401/403/404 (chat not found, bot blocked, …) are
// permanent; 5xx, network and anything else are transient.
func sendError(method string, err error) error {
	werr := fmt.Errorf("telegram %s: %w", method, err)
	var tmr *bot.TooManyRequestsError
	if errors.As(err, &tmr) {
		return channel.Transient(werr, time.Duration(tmr.RetryAfter)*time.Second)
	}
	var mig *bot.MigrateError
	if errors.As(err, &mig) {
		return channel.Permanent(fmt.Errorf("telegram %s: the group became supergroup %d: %w", method, mig.MigrateToChatID, err))
	}
	switch {
	case errors.Is(err, bot.ErrorBadRequest), errors.Is(err, bot.ErrorForbidden),
		errors.Is(err, bot.ErrorUnauthorized), errors.Is(err, bot.ErrorNotFound):
		return channel.Permanent(werr)
	}
	return channel.Transient(werr, 0)
}
