package pairing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/pincerhq/pincer/core/store"
)

// Domain is the store migration domain of this package.
const Domain = "devices"

func init() {
	store.Register(store.Migration{Domain: Domain, Version: 1, SQL: `
CREATE TABLE device_paired (
	device_id        TEXT PRIMARY KEY,
	public_key       TEXT NOT NULL,
	display_name     TEXT NOT NULL DEFAULT '',
	label            TEXT NOT NULL DEFAULT '',
	platform         TEXT NOT NULL DEFAULT '',
	device_family    TEXT NOT NULL DEFAULT '',
	client_id        TEXT NOT NULL DEFAULT '',
	client_mode      TEXT NOT NULL DEFAULT '',
	role             TEXT NOT NULL DEFAULT '',
	roles_json       TEXT NOT NULL,
	scopes_json      TEXT NOT NULL,
	remote_ip        TEXT NOT NULL DEFAULT '',
	approved_via     TEXT NOT NULL,
	created_at_ms    INTEGER NOT NULL,
	approved_at_ms   INTEGER NOT NULL,
	last_seen_at_ms  INTEGER NOT NULL DEFAULT 0,
	last_seen_reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE device_pending (
	request_id    TEXT PRIMARY KEY,
	device_id     TEXT NOT NULL,
	record_json   TEXT NOT NULL,
	ts            INTEGER NOT NULL
);
CREATE INDEX device_pending_device ON device_pending(device_id);
CREATE TABLE device_tokens (
	device_id       TEXT NOT NULL,
	role            TEXT NOT NULL,
	token_hash      TEXT NOT NULL UNIQUE,
	scopes_json     TEXT NOT NULL,
	created_at_ms   INTEGER NOT NULL,
	rotated_at_ms   INTEGER NOT NULL DEFAULT 0,
	last_used_at_ms INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (device_id, role)
);
CREATE TABLE device_bootstrap (
	token_hash    TEXT PRIMARY KEY,
	setup_id      TEXT NOT NULL UNIQUE,
	profile       TEXT NOT NULL,
	created_at_ms INTEGER NOT NULL,
	expires_at_ms INTEGER NOT NULL,
	used_at_ms    INTEGER NOT NULL DEFAULT 0,
	device_id     TEXT NOT NULL DEFAULT '',
	device_name   TEXT NOT NULL DEFAULT ''
);`})
}

// newToken is 32 random bytes, base64url without padding (43 chars).
func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("pairing: random: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how tokens are kept at rest.
func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// paired is a paired device row.
type paired struct {
	DeviceID, PublicKey, DisplayName, Label, Platform, DeviceFamily string
	ClientID, ClientMode, Role                                      string
	Roles, Scopes                                                   []string
	RemoteIP, ApprovedVia                                           string
	CreatedAtMs, ApprovedAtMs, LastSeenAtMs                         int64
	LastSeenReason                                                  string
}

// tokenRow is a device token (hash only).
type tokenRow struct {
	DeviceID, Role, Hash                   string
	Scopes                                 []string
	CreatedAtMs, RotatedAtMs, LastUsedAtMs int64
}

type db struct{ *store.DB }

func (d db) loadPaired(ctx context.Context) (map[string]*paired, error) {
	rows, err := d.QueryContext(ctx, `SELECT device_id, public_key, display_name, label, platform, device_family, client_id,
		client_mode, role, roles_json, scopes_json, remote_ip, approved_via, created_at_ms, approved_at_ms, last_seen_at_ms,
		last_seen_reason FROM device_paired`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*paired{}
	for rows.Next() {
		var p paired
		var roles, scopes string
		if err := rows.Scan(&p.DeviceID, &p.PublicKey, &p.DisplayName, &p.Label, &p.Platform, &p.DeviceFamily, &p.ClientID,
			&p.ClientMode, &p.Role, &roles, &scopes, &p.RemoteIP, &p.ApprovedVia, &p.CreatedAtMs, &p.ApprovedAtMs,
			&p.LastSeenAtMs, &p.LastSeenReason); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(roles), &p.Roles)
		_ = json.Unmarshal([]byte(scopes), &p.Scopes)
		out[p.DeviceID] = &p
	}
	return out, rows.Err()
}

func (d db) savePaired(ctx context.Context, p *paired) error {
	_, err := d.ExecContext(ctx, `INSERT INTO device_paired (device_id, public_key, display_name, label, platform, device_family,
		client_id, client_mode, role, roles_json, scopes_json, remote_ip, approved_via, created_at_ms, approved_at_ms,
		last_seen_at_ms, last_seen_reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(device_id) DO UPDATE SET public_key=excluded.public_key, display_name=excluded.display_name,
		label=excluded.label, platform=excluded.platform, device_family=excluded.device_family, client_id=excluded.client_id,
		client_mode=excluded.client_mode, role=excluded.role, roles_json=excluded.roles_json, scopes_json=excluded.scopes_json,
		remote_ip=excluded.remote_ip, approved_via=excluded.approved_via, created_at_ms=excluded.created_at_ms,
		approved_at_ms=excluded.approved_at_ms, last_seen_at_ms=excluded.last_seen_at_ms, last_seen_reason=excluded.last_seen_reason`,
		p.DeviceID, p.PublicKey, p.DisplayName, p.Label, p.Platform, p.DeviceFamily, p.ClientID, p.ClientMode, p.Role,
		mustJSON(nonNil(p.Roles)), mustJSON(nonNil(p.Scopes)), p.RemoteIP, p.ApprovedVia, p.CreatedAtMs, p.ApprovedAtMs,
		p.LastSeenAtMs, p.LastSeenReason)
	return err
}

func (d db) loadPending(ctx context.Context) (map[string]*pendingReq, error) {
	rows, err := d.QueryContext(ctx, `SELECT record_json FROM device_pending`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*pendingReq{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		var r pendingReq
		if json.Unmarshal([]byte(s), &r) == nil && r.RequestID != "" {
			out[r.RequestID] = &r
		}
	}
	return out, rows.Err()
}

func (d db) savePending(ctx context.Context, r *pendingReq) error {
	_, err := d.ExecContext(ctx, `INSERT OR REPLACE INTO device_pending (request_id, device_id, record_json, ts) VALUES (?,?,?,?)`,
		r.RequestID, r.DeviceID, mustJSON(r), r.Ts)
	return err
}

func (d db) deletePending(ctx context.Context, requestID string) error {
	_, err := d.ExecContext(ctx, `DELETE FROM device_pending WHERE request_id = ?`, requestID)
	return err
}

func (d db) loadTokens(ctx context.Context) (map[tokenKey]*tokenRow, error) {
	rows, err := d.QueryContext(ctx, `SELECT device_id, role, token_hash, scopes_json, created_at_ms, rotated_at_ms, last_used_at_ms FROM device_tokens`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[tokenKey]*tokenRow{}
	for rows.Next() {
		var t tokenRow
		var scopes string
		if err := rows.Scan(&t.DeviceID, &t.Role, &t.Hash, &scopes, &t.CreatedAtMs, &t.RotatedAtMs, &t.LastUsedAtMs); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(scopes), &t.Scopes)
		out[tokenKey{t.DeviceID, t.Role}] = &t
	}
	return out, rows.Err()
}

func (d db) saveToken(ctx context.Context, t *tokenRow) error {
	_, err := d.ExecContext(ctx, `INSERT INTO device_tokens (device_id, role, token_hash, scopes_json, created_at_ms, rotated_at_ms, last_used_at_ms)
		VALUES (?,?,?,?,?,?,?) ON CONFLICT(device_id, role) DO UPDATE SET token_hash=excluded.token_hash, scopes_json=excluded.scopes_json,
		created_at_ms=excluded.created_at_ms, rotated_at_ms=excluded.rotated_at_ms, last_used_at_ms=excluded.last_used_at_ms`,
		t.DeviceID, t.Role, t.Hash, mustJSON(nonNil(t.Scopes)), t.CreatedAtMs, t.RotatedAtMs, t.LastUsedAtMs)
	return err
}

func (d db) deleteTokens(ctx context.Context, deviceID, role string) error {
	if role == "" {
		_, err := d.ExecContext(ctx, `DELETE FROM device_tokens WHERE device_id = ?`, deviceID)
		return err
	}
	_, err := d.ExecContext(ctx, `DELETE FROM device_tokens WHERE device_id = ? AND role = ?`, deviceID, role)
	return err
}

func (d db) deleteDevice(ctx context.Context, deviceID string) error {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	for _, q := range []string{`DELETE FROM device_paired WHERE device_id = ?`, `DELETE FROM device_tokens WHERE device_id = ?`,
		`DELETE FROM device_pending WHERE device_id = ?`} {
		if _, err := tx.ExecContext(ctx, q, deviceID); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// bootstrapRow is a setup-code bootstrap token.
type bootstrapRow struct {
	Hash, SetupID, Profile   string
	CreatedAtMs, ExpiresAtMs int64
	UsedAtMs                 int64
	DeviceID, DeviceName     string
}

func (d db) saveBootstrap(ctx context.Context, b *bootstrapRow) error {
	_, err := d.ExecContext(ctx, `INSERT OR REPLACE INTO device_bootstrap (token_hash, setup_id, profile, created_at_ms, expires_at_ms,
		used_at_ms, device_id, device_name) VALUES (?,?,?,?,?,?,?,?)`, b.Hash, b.SetupID, b.Profile, b.CreatedAtMs, b.ExpiresAtMs,
		b.UsedAtMs, b.DeviceID, b.DeviceName)
	return err
}

func (d db) getBootstrap(ctx context.Context, col, v string) (*bootstrapRow, error) {
	var b bootstrapRow
	err := d.QueryRowContext(ctx, `SELECT token_hash, setup_id, profile, created_at_ms, expires_at_ms, used_at_ms, device_id, device_name
		FROM device_bootstrap WHERE `+col+` = ?`, v).Scan(&b.Hash, &b.SetupID, &b.Profile, &b.CreatedAtMs, &b.ExpiresAtMs,
		&b.UsedAtMs, &b.DeviceID, &b.DeviceName)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	return &b, err
}

func (d db) pruneBootstrap(ctx context.Context, before int64) error {
	_, err := d.ExecContext(ctx, `DELETE FROM device_bootstrap WHERE expires_at_ms < ?`, before)
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
