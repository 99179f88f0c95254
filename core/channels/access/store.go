package access

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/routing"
	"github.com/pincerhq/pincer/core/store"
)

// Domain is the store migration domain of this package.
const Domain = "channel_access"

func init() {
	store.Register(store.Migration{Domain: Domain, Version: 1, SQL: `
CREATE TABLE channel_pairing_requests (
	channel         TEXT    NOT NULL,
	account_id      TEXT    NOT NULL,
	sender_id       TEXT    NOT NULL,
	code            TEXT    NOT NULL,
	sender_name     TEXT    NOT NULL DEFAULT '',
	sender_username TEXT    NOT NULL DEFAULT '',
	created_at_ms   INTEGER NOT NULL,
	last_seen_at_ms INTEGER NOT NULL,
	PRIMARY KEY (channel, account_id, sender_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX channel_pairing_requests_code ON channel_pairing_requests(channel, code);
CREATE TABLE channel_pairing_allow_entries (
	channel        TEXT    NOT NULL,
	account_id     TEXT    NOT NULL,
	sender_id      TEXT    NOT NULL,
	sender_name    TEXT    NOT NULL DEFAULT '',
	approved_at_ms INTEGER NOT NULL,
	PRIMARY KEY (channel, account_id, sender_id)
) WITHOUT ROWID;`})
}

// Pairing code parameters.
const (
	CodeLength   = 8
	CodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" // no 0, O, 1, I
	PendingTTL   = time.Hour
	MaxPending   = 3 // per channel account
)

// ErrUnknownCode means no pending (unexpired) request has the code.
var ErrUnknownCode = errors.New("access: no pending pairing request with that code")

// Request is a pending DM pairing request.
type Request struct {
	Channel        string
	AccountID      string
	Code           string
	SenderID       string
	SenderName     string // display name
	SenderUsername string // handle without "@"
	CreatedAt      time.Time
	LastSeenAt     time.Time
	ExpiresAt      time.Time
}

// Store keeps pairing requests and approved senders in the state database.
type Store struct {
	db   *store.DB
	now  func() time.Time // tests pin the clock
	rand io.Reader        // tests may pin the code source
	wmu  sync.Mutex       // one write transaction at a time
}

// Open returns a Store over db. The schema is applied by store.Open (this
// package registers its migration in init); Open only checks that it was.
func Open(ctx context.Context, db *store.DB) (*Store, error) {
	if db == nil || db.DB == nil {
		return nil, errors.New("access: nil database")
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE domain = ?`, Domain).Scan(&n); err != nil {
		return nil, fmt.Errorf("access: read schema version: %w", err)
	}
	if n == 0 {
		return nil, errors.New("access: the channel_access schema is missing; the store was opened before this package was linked in")
	}
	return &Store{db: db, now: time.Now, rand: rand.Reader}, nil
}

func normChannel(ch string) string { return strings.ToLower(strings.TrimSpace(ch)) }

// Check decides on an inbound message for a channel account under p. For a
// DM from an unknown sender under dmPolicy pairing it records a pairing
// request; Decision.PairingCode is then set, once per request, and the
// caller sends it (PairingReply) without processing the message. accountID
// "" falls back to in.AccountID, then to "default".
func (s *Store) Check(ctx context.Context, channelID, accountID string, p Policy, in channel.Inbound) (Decision, error) {
	ch := normChannel(channelID)
	if ch == "" {
		ch = normChannel(in.Channel)
	}
	if accountID == "" {
		accountID = in.AccountID
	}
	account := routing.NormalizeAccountID(accountID)
	owner := isOwner(ch, p.OwnerAllowFrom, in.Sender)

	d, ok := botGate(p, in)
	if ok {
		if isDirect(in.Peer.Kind) {
			var err error
			if d, err = s.checkDM(ctx, ch, account, p, in); err != nil {
				return Decision{IsOwner: owner}, err
			}
		} else {
			d = checkGroup(ch, p, in)
		}
	}
	d.IsOwner = owner
	return d, nil
}

func (s *Store) checkDM(ctx context.Context, ch, account string, p Policy, in channel.Inbound) (Decision, error) {
	names := p.DangerouslyAllowNameMatching
	policy := strings.TrimSpace(p.DMPolicy)
	if policy == "" {
		policy = DMPolicyPairing
	}
	switch policy {
	case DMPolicyDisabled:
		return deny(CodeDMDisabled, "dmPolicy=disabled"), nil
	case DMPolicyOpen:
		// Pairing approvals do not widen open: without "*" only the
		// listed senders get in.
		if hasWildcard(p.AllowFrom) {
			return allow(CodeDMOpen, "dmPolicy=open"), nil
		}
		if senderAllowed(ch, p.AllowFrom, in.Sender, names) {
			return allow(CodeDMAllowlisted, "dmPolicy=open (allowlisted)"), nil
		}
		return deny(CodeDMNotAllowlisted, "dmPolicy=open without \"*\" in allowFrom (not allowlisted)"), nil
	case DMPolicyAllowlist, DMPolicyPairing:
	default:
		return deny(CodeDMUnknownPolicy, "unknown dmPolicy "+policy+" (blocked)"), nil
	}
	if senderAllowed(ch, p.AllowFrom, in.Sender, names) {
		return allow(CodeDMAllowlisted, "dmPolicy="+policy+" (allowlisted)"), nil
	}
	ok, err := s.Allowed(ctx, ch, account, in.Sender.ID)
	if err != nil {
		return Decision{}, err
	}
	if ok {
		return allow(CodeDMAllowlisted, "dmPolicy="+policy+" (approved by pairing)"), nil
	}
	if policy == DMPolicyAllowlist {
		return deny(CodeDMNotAllowlisted, "dmPolicy=allowlist (not allowlisted)"), nil
	}
	if strings.TrimSpace(in.Sender.ID) == "" {
		return deny(CodeDMNotAllowlisted, "dmPolicy=pairing but the sender has no id"), nil
	}
	code, created, err := s.request(ctx, ch, account, in.Sender)
	switch {
	case err != nil:
		return Decision{}, err
	case created:
		d := deny(CodeDMPairingRequired, "dmPolicy=pairing: new pairing request; send the code")
		d.PairingCode = code
		return d, nil
	case code != "":
		return deny(CodePairingPending, "dmPolicy=pairing: pairing request pending approval (code already sent)"), nil
	}
	return deny(CodePairingQueueFull, fmt.Sprintf("dmPolicy=pairing: pairing queue full (%d pending requests for this account); ignored until one expires or is approved", MaxPending)), nil
}

// request creates or refreshes the sender's pairing request. It returns
// the request's code and whether it was just created; code "" means the
// account's queue is full.
func (s *Store) request(ctx context.Context, ch, account string, sender channel.Sender) (code string, created bool, err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	now := s.now().UnixMilli()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", false, err
	}
	defer tx.Rollback() //nolint:errcheck
	if err := prune(ctx, tx, ch, now); err != nil {
		return "", false, err
	}
	id := strings.TrimSpace(sender.ID)
	err = tx.QueryRowContext(ctx, `SELECT code FROM channel_pairing_requests WHERE channel = ? AND account_id = ? AND sender_id = ?`,
		ch, account, id).Scan(&code)
	switch {
	case err == nil:
		if _, err := tx.ExecContext(ctx, `UPDATE channel_pairing_requests SET last_seen_at_ms = ?, sender_name = ?, sender_username = ?
			WHERE channel = ? AND account_id = ? AND sender_id = ?`, now, sender.DisplayName, sender.Username, ch, account, id); err != nil {
			return "", false, err
		}
		return code, false, tx.Commit()
	case !errors.Is(err, sql.ErrNoRows):
		return "", false, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM channel_pairing_requests WHERE channel = ? AND account_id = ?`, ch, account).Scan(&n); err != nil {
		return "", false, err
	}
	if n >= MaxPending {
		return "", false, tx.Commit() // keeps the pruning
	}
	for attempt := 0; ; attempt++ {
		if attempt == 500 {
			return "", false, errors.New("access: could not generate a unique pairing code")
		}
		if code, err = s.newCode(); err != nil {
			return "", false, err
		}
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM channel_pairing_requests WHERE channel = ? AND code = ?`, ch, code).Scan(&taken); err != nil {
			return "", false, err
		}
		if taken == 0 {
			break
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO channel_pairing_requests (channel, account_id, sender_id, code, sender_name, sender_username,
		created_at_ms, last_seen_at_ms) VALUES (?,?,?,?,?,?,?,?)`, ch, account, id, code, sender.DisplayName, sender.Username, now, now); err != nil {
		return "", false, err
	}
	return code, true, tx.Commit()
}

// prune drops the channel's expired requests ("" = every channel).
func prune(ctx context.Context, tx *sql.Tx, ch string, nowMs int64) error {
	cutoff := nowMs - PendingTTL.Milliseconds()
	if ch == "" {
		_, err := tx.ExecContext(ctx, `DELETE FROM channel_pairing_requests WHERE created_at_ms < ?`, cutoff)
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM channel_pairing_requests WHERE channel = ? AND created_at_ms < ?`, ch, cutoff)
	return err
}

// newCode draws a pairing code from crypto/rand (the alphabet has 32
// letters, so 5 random bits pick one without bias).
func (s *Store) newCode() (string, error) {
	var b [CodeLength]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", fmt.Errorf("access: random: %w", err)
	}
	for i := range b {
		b[i] = CodeAlphabet[b[i]&31]
	}
	return string(b[:]), nil
}

// Pending lists the unexpired pairing requests of a channel ("" = every
// channel), oldest first.
func (s *Store) Pending(ctx context.Context, channelID string) ([]Request, error) {
	ch := normChannel(channelID)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck
	if err := prune(ctx, tx, ch, s.now().UnixMilli()); err != nil {
		return nil, err
	}
	q := `SELECT channel, account_id, code, sender_id, sender_name, sender_username, created_at_ms, last_seen_at_ms
		FROM channel_pairing_requests`
	args := []any{}
	if ch != "" {
		q += ` WHERE channel = ?`
		args = append(args, ch)
	}
	q += ` ORDER BY created_at_ms, channel, account_id, sender_id`
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	return out, tx.Commit()
}

type scanner interface{ Scan(...any) error }

func scanRequest(sc scanner) (Request, error) {
	var r Request
	var created, seen int64
	if err := sc.Scan(&r.Channel, &r.AccountID, &r.Code, &r.SenderID, &r.SenderName, &r.SenderUsername, &created, &seen); err != nil {
		return Request{}, err
	}
	r.CreatedAt = time.UnixMilli(created)
	r.LastSeenAt = time.UnixMilli(seen)
	r.ExpiresAt = r.CreatedAt.Add(PendingTTL)
	return r, nil
}

// Approve grants the sender of a pending request DM access on its channel
// account (the persisted allow list) and removes the request. Codes match
// without regard to case.
func (s *Store) Approve(ctx context.Context, channelID, code string) (Request, error) {
	return s.resolve(ctx, channelID, code, true)
}

// Dismiss removes a pending request without approving it; the sender may
// ask again later.
func (s *Store) Dismiss(ctx context.Context, channelID, code string) error {
	_, err := s.resolve(ctx, channelID, code, false)
	return err
}

func (s *Store) resolve(ctx context.Context, channelID, code string, approve bool) (Request, error) {
	ch := normChannel(channelID)
	code = strings.ToUpper(strings.TrimSpace(code))
	if ch == "" || code == "" {
		return Request{}, ErrUnknownCode
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	now := s.now().UnixMilli()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Request{}, err
	}
	defer tx.Rollback() //nolint:errcheck
	if err := prune(ctx, tx, ch, now); err != nil {
		return Request{}, err
	}
	r, err := scanRequest(tx.QueryRowContext(ctx, `SELECT channel, account_id, code, sender_id, sender_name, sender_username,
		created_at_ms, last_seen_at_ms FROM channel_pairing_requests WHERE channel = ? AND code = ?`, ch, code))
	if errors.Is(err, sql.ErrNoRows) {
		if err := tx.Commit(); err != nil { // keep the pruning
			return Request{}, err
		}
		return Request{}, ErrUnknownCode
	}
	if err != nil {
		return Request{}, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM channel_pairing_requests WHERE channel = ? AND code = ?`, ch, code); err != nil {
		return Request{}, err
	}
	if approve {
		name := r.SenderName
		if name == "" && r.SenderUsername != "" {
			name = "@" + r.SenderUsername
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO channel_pairing_allow_entries (channel, account_id, sender_id, sender_name, approved_at_ms)
			VALUES (?,?,?,?,?) ON CONFLICT(channel, account_id, sender_id) DO NOTHING`, r.Channel, r.AccountID, r.SenderID, name, now); err != nil {
			return Request{}, err
		}
	}
	return r, tx.Commit()
}

// Allowed reports whether pairing approved the sender on the channel
// account (accountID "" is "default").
func (s *Store) Allowed(ctx context.Context, channelID, accountID, senderID string) (bool, error) {
	senderID = strings.TrimSpace(senderID)
	if senderID == "" {
		return false, nil
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM channel_pairing_allow_entries WHERE channel = ? AND account_id = ? AND sender_id = ?`,
		normChannel(channelID), routing.NormalizeAccountID(accountID), senderID).Scan(&n)
	return n > 0, err
}

// Revoke removes a sender's pairing approval; it reports whether there was
// one.
func (s *Store) Revoke(ctx context.Context, channelID, accountID, senderID string) (bool, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	res, err := s.db.ExecContext(ctx, `DELETE FROM channel_pairing_allow_entries WHERE channel = ? AND account_id = ? AND sender_id = ?`,
		normChannel(channelID), routing.NormalizeAccountID(accountID), strings.TrimSpace(senderID))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// PairingReply is the message that carries a pairing code to its sender.
func PairingReply(channelID, senderID, code string) string {
	ch := normChannel(channelID)
	return strings.Join([]string{
		"Pincer: access not configured.",
		"",
		"Your " + ch + " user id: " + senderID,
		"Pairing code:",
		"```",
		code,
		"```",
		"",
		"Ask the bot owner to approve with:",
		"```",
		"pincer pairing approve " + ch + " " + code,
		"```",
	}, "\n")
}
