package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Migration is one schema step of a domain. Versions start at 1 and are
// applied in ascending order.
type Migration struct {
	Domain  string
	Version int
	SQL     string
}

var (
	regMu    sync.Mutex
	registry = map[string][]Migration{}
)

// Register adds a migration. Domain packages call it from init(); a duplicate
// (domain, version), an empty domain or a version below 1 is a programming
// error and panics.
func Register(m Migration) {
	if strings.TrimSpace(m.Domain) == "" {
		panic("store: migration with empty domain")
	}
	if m.Version < 1 {
		panic(fmt.Sprintf("store: migration %s/%d: version must be >= 1", m.Domain, m.Version))
	}
	regMu.Lock()
	defer regMu.Unlock()
	for _, e := range registry[m.Domain] {
		if e.Version == m.Version {
			panic(fmt.Sprintf("store: duplicate migration %s/%d", m.Domain, m.Version))
		}
	}
	registry[m.Domain] = append(registry[m.Domain], m)
}

// CoreDomain is the migration domain of the tables this package owns.
const CoreDomain = "core"

func init() {
	Register(Migration{Domain: CoreDomain, Version: 1, SQL: `
CREATE TABLE kv (
	namespace     TEXT    NOT NULL,
	key           TEXT    NOT NULL,
	value         BLOB,
	updated_at_ms INTEGER NOT NULL,
	PRIMARY KEY (namespace, key)
) WITHOUT ROWID;`})
}

// migrationsByDomain snapshots the registry, core first, then by name.
func migrationsByDomain() [][]Migration {
	regMu.Lock()
	defer regMu.Unlock()
	domains := make([]string, 0, len(registry))
	for d := range registry {
		domains = append(domains, d)
	}
	slices.SortFunc(domains, func(a, b string) int {
		if (a == CoreDomain) != (b == CoreDomain) {
			if a == CoreDomain {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	out := make([][]Migration, 0, len(domains))
	for _, d := range domains {
		ms := slices.Clone(registry[d])
		slices.SortFunc(ms, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
		out = append(out, ms)
	}
	return out
}

// DB is an open state database.
type DB struct {
	*sql.DB
	Path string

	lock *fileLock
	once sync.Once
	cerr error
	wmu  sync.Mutex // WriteTx: one write transaction at a time
}

// WriteTx runs fn in one write transaction and returns only after the
// commit. SQLite has a single writer; queueing writers here, instead of in
// SQLite's busy handler (which sleeps in coarse steps), keeps concurrent
// writers fast. Hot-path writers (transcripts, the outbox) use it.
func (db *DB) WriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Options tune Open.
type Options struct {
	// BusyTimeout is how long a statement waits for a competing writer
	// before failing with SQLITE_BUSY (default 5s).
	BusyTimeout time.Duration
	// SkipIntegrityCheck skips PRAGMA quick_check at open (it reads the
	// whole file; tests and very large databases may want to skip it).
	SkipIntegrityCheck bool
}

// Open opens (creating if needed) the database at path, locks its state
// directory against a second gateway, verifies it and applies pending
// migrations.
func Open(path string, opt Options) (*DB, error) {
	if !driverAvailable {
		return nil, errNoDriver
	}
	if path == "" {
		return nil, errors.New("store: empty database path")
	}
	if opt.BusyTimeout <= 0 {
		opt.BusyTimeout = 5 * time.Second
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	path = abs
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state dir %s: %w", dir, err)
	}

	lock, err := acquireLock(path + ".lock")
	if err != nil {
		var held *lockHeldError
		if errors.As(err, &held) {
			who := "another process"
			if held.pid > 0 {
				who = fmt.Sprintf("pid %d", held.pid)
			}
			return nil, fmt.Errorf("another Pincer gateway is already using state dir %s (lock %s held by %s)", stateDirOf(path), held.file, who)
		}
		return nil, fmt.Errorf("lock %s: %w", path+".lock", err)
	}

	db, err := open(path, opt)
	if err != nil {
		lock.release()
		return nil, err
	}
	db.lock = lock
	return db, nil
}

// stateDirOf names the directory a user thinks of as the state dir: the
// parent of the "state" folder the database lives in, when that is the layout.
func stateDirOf(dbPath string) string {
	dir := filepath.Dir(dbPath)
	if filepath.Base(dir) == "state" {
		return filepath.Dir(dir)
	}
	return dir
}

func open(path string, opt Options) (*DB, error) {
	if err := precreate(path); err != nil {
		return nil, err
	}
	sqldb, err := sql.Open(driverName, dsn(path, opt))
	if err != nil {
		return nil, fmt.Errorf("open state database %s: %w", path, err)
	}
	db := &DB{DB: sqldb, Path: path}
	fail := func(step string, err error) (*DB, error) {
		sqldb.Close()
		if isCorrupt(err) {
			return nil, corruptError(path, err)
		}
		return nil, fmt.Errorf("state database %s: %s: %w", path, step, err)
	}

	ctx := context.Background()
	var mode string
	if err := sqldb.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return fail("open", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fail("open", fmt.Errorf("cannot enable WAL (journal_mode is %s)", mode))
	}
	if !opt.SkipIntegrityCheck {
		if err := quickCheck(ctx, sqldb); err != nil {
			return fail("integrity check", err)
		}
	}
	if err := db.migrate(ctx); err != nil {
		return fail("migrate", err)
	}
	return db, nil
}

// precreate makes a new database file private before SQLite creates it;
// SQLite gives its -wal and -shm files the database file's permissions.
func precreate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	return fmt.Errorf("create state database %s: %w", path, err)
}

type corruptErr struct {
	path  string
	cause error
}

func (e *corruptErr) Error() string {
	return fmt.Sprintf("state database %s is corrupt: %v; move it aside (the gateway will create a new one) or restore a backup", e.path, e.cause)
}

func (e *corruptErr) Unwrap() error { return e.cause }

// ErrCorrupt matches (errors.Is) the error Open returns for a damaged or
// foreign database file.
var ErrCorrupt = errors.New("state database is corrupt")

func (e *corruptErr) Is(target error) bool { return target == ErrCorrupt }

func corruptError(path string, cause error) error {
	var ce *corruptErr
	if errors.As(cause, &ce) {
		return &corruptErr{path: path, cause: ce.cause}
	}
	return &corruptErr{path: path, cause: cause}
}

func isCorrupt(err error) bool {
	var ce *corruptErr
	return errors.As(err, &ce) || isDriverCorrupt(err)
}

func quickCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		if s != "ok" && len(problems) < 5 {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return &corruptErr{cause: fmt.Errorf("quick_check: %s", strings.Join(problems, "; "))}
	}
	return nil
}

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	domain        TEXT    NOT NULL,
	version       INTEGER NOT NULL,
	applied_at_ms INTEGER NOT NULL,
	PRIMARY KEY (domain, version)
) WITHOUT ROWID`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := map[string]map[int]bool{}
	rows, err := db.QueryContext(ctx, "SELECT domain, version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var d string
		var v int
		if err := rows.Scan(&d, &v); err != nil {
			rows.Close()
			return err
		}
		if applied[d] == nil {
			applied[d] = map[int]bool{}
		}
		applied[d][v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	for _, ms := range migrationsByDomain() {
		domain := ms[0].Domain
		newest := ms[len(ms)-1].Version
		for v := range applied[domain] {
			if v > newest {
				return fmt.Errorf("%s schema version %d is newer than this Pincer knows (up to %d); upgrade Pincer or restore a matching backup", domain, v, newest)
			}
		}
		for _, m := range ms {
			if applied[domain][m.Version] {
				continue
			}
			if err := db.apply(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}

func (db *DB) apply(ctx context.Context, m Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s/%d: %w", m.Domain, m.Version, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %s/%d failed: %w", m.Domain, m.Version, err)
	}
	if _, err := tx.ExecContext(ctx,
		"INSERT INTO schema_migrations(domain, version, applied_at_ms) VALUES (?, ?, ?)",
		m.Domain, m.Version, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("migration %s/%d: record: %w", m.Domain, m.Version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s/%d: commit: %w", m.Domain, m.Version, err)
	}
	return nil
}

// Close closes the database and releases the state-dir lock. It is safe to
// call more than once.
func (db *DB) Close() error {
	db.once.Do(func() {
		db.cerr = db.DB.Close()
		if db.lock != nil {
			db.lock.release()
		}
	})
	return db.cerr
}

// SchemaVersion is the highest applied migration of domain (0 if none).
func (db *DB) SchemaVersion(domain string) int {
	var v sql.NullInt64
	if err := db.QueryRow("SELECT MAX(version) FROM schema_migrations WHERE domain = ?", domain).Scan(&v); err != nil {
		return 0
	}
	return int(v.Int64)
}

// GetKV reads a value from the core key/value table.
func (db *DB) GetKV(ns, key string) ([]byte, bool, error) {
	var v []byte
	err := db.QueryRow("SELECT value FROM kv WHERE namespace = ? AND key = ?", ns, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// PutKV stores a value in the core key/value table, replacing any previous one.
func (db *DB) PutKV(ns, key string, v []byte) error {
	if v == nil {
		v = []byte{}
	}
	_, err := db.Exec(`INSERT INTO kv(namespace, key, value, updated_at_ms) VALUES (?, ?, ?, ?)
ON CONFLICT(namespace, key) DO UPDATE SET value = excluded.value, updated_at_ms = excluded.updated_at_ms`,
		ns, key, v, time.Now().UnixMilli())
	return err
}

// DeleteKV removes a key; removing a missing key is not an error.
func (db *DB) DeleteKV(ns, key string) error {
	_, err := db.Exec("DELETE FROM kv WHERE namespace = ? AND key = ?", ns, key)
	return err
}
