//go:build cgo

package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// testDomain registers migrations under a name unique to the test, so tests
// never see each other's schema.
var testSeq struct {
	sync.Mutex
	n int
}

func testDomain(t *testing.T) string {
	testSeq.Lock()
	defer testSeq.Unlock()
	testSeq.n++
	return fmt.Sprintf("test_%s_%d", strings.ReplaceAll(strings.ToLower(t.Name()), "/", "_"), testSeq.n)
}

func dbPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "state", "pincer.sqlite")
}

func mustOpen(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenCreatesWALDatabase(t *testing.T) {
	path := dbPath(t)
	db := mustOpen(t, path)

	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if st.Mode().Perm() != 0o600 {
			t.Errorf("db mode %v, want 0600", st.Mode().Perm())
		}
		dst, _ := os.Stat(filepath.Dir(path))
		if dst.Mode().Perm() != 0o700 {
			t.Errorf("dir mode %v, want 0700", dst.Mode().Perm())
		}
	}

	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	// Per-connection settings must hold on every pooled connection, so check
	// them on several at once.
	var held []func() error
	for i := 0; i < 3; i++ {
		c, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c.Close)
		var fk, syn, busy int
		if err := c.QueryRowContext(t.Context(), "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&syn); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(t.Context(), "PRAGMA busy_timeout").Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if fk != 1 || syn != 1 || busy != 5000 {
			t.Errorf("conn %d: foreign_keys=%d synchronous=%d busy_timeout=%d", i, fk, syn, busy)
		}
	}
	for _, c := range held {
		c()
	}

	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no WAL file: %v", err)
	}
	if db.SchemaVersion(CoreDomain) != 1 {
		t.Errorf("core schema version %d", db.SchemaVersion(CoreDomain))
	}
	if db.Path != path {
		t.Errorf("Path = %q", db.Path)
	}
}

func TestBusyTimeoutOption(t *testing.T) {
	db, err := Open(dbPath(t), Options{BusyTimeout: 1234 * 1e6, SkipIntegrityCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var busy int
	if err := db.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 1234 {
		t.Fatalf("busy_timeout = %d, %v", busy, err)
	}
}

func TestMigrationsAppliedOnceAndRecorded(t *testing.T) {
	domain := testDomain(t)
	Register(Migration{Domain: domain, Version: 2, SQL: fmt.Sprintf(`ALTER TABLE %s_items ADD COLUMN note TEXT;`, domain)})
	Register(Migration{Domain: domain, Version: 1, SQL: fmt.Sprintf(`CREATE TABLE %s_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO %[1]s_items(name) VALUES ('seed');`, domain)})

	path := dbPath(t)
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v := db.SchemaVersion(domain); v != 2 {
		t.Fatalf("version %d, want 2", v)
	}
	var n int
	if err := db.QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM %s_items WHERE note IS NULL", domain)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("seed rows %d, %v", n, err)
	}
	rows, err := db.Query("SELECT version, applied_at_ms FROM schema_migrations WHERE domain = ? ORDER BY version", domain)
	if err != nil {
		t.Fatal(err)
	}
	var versions []int
	for rows.Next() {
		var v int
		var at int64
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatal(err)
		}
		if at <= 0 {
			t.Errorf("version %d has applied_at_ms %d", v, at)
		}
		versions = append(versions, v)
	}
	rows.Close()
	if fmt.Sprint(versions) != "[1 2]" {
		t.Fatalf("recorded versions %v", versions)
	}
	db.Close()

	// Reopening must not run them again (the INSERT would duplicate the seed
	// and ALTER TABLE would fail).
	db = mustOpen(t, path)
	if err := db.QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM %s_items", domain)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("after reopen: %d rows, %v", n, err)
	}
	var count int
	db.QueryRow("SELECT COUNT(*) FROM schema_migrations WHERE domain = ?", domain).Scan(&count)
	if count != 2 {
		t.Fatalf("%d migration records after reopen", count)
	}
	db.Close()

	// A later migration added by a newer build is applied on the next open.
	Register(Migration{Domain: domain, Version: 3, SQL: fmt.Sprintf(`CREATE INDEX %s_items_name ON %[1]s_items(name);`, domain)})
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v := db.SchemaVersion(domain); v != 3 {
		t.Fatalf("version %d after adding migration 3", v)
	}
	if db.SchemaVersion("no_such_domain") != 0 {
		t.Fatal("unknown domain should report 0")
	}
}

func TestFailedMigrationRollsBack(t *testing.T) {
	domain := testDomain(t)
	Register(Migration{Domain: domain, Version: 1, SQL: fmt.Sprintf(`CREATE TABLE %s_a (x INTEGER); THIS IS NOT SQL;`, domain)})
	path := dbPath(t)
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "migration "+domain+"/1 failed") {
		t.Fatalf("err = %v", err)
	}
	// Remove the broken migration so later opens in this test binary work.
	regMu.Lock()
	delete(registry, domain)
	regMu.Unlock()

	db := mustOpen(t, path)
	var n int
	db.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE name = ?", domain+"_a").Scan(&n)
	if n != 0 {
		t.Fatal("partial migration was committed")
	}
	if db.SchemaVersion(domain) != 0 {
		t.Fatal("failed migration recorded")
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := dbPath(t)
	db := mustOpen(t, path)
	if _, err := db.Exec("INSERT INTO schema_migrations VALUES ('core', 99, 1)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "core schema version 99") {
		t.Fatalf("err = %v", err)
	}
}

func TestRegisterPanics(t *testing.T) {
	domain := testDomain(t)
	Register(Migration{Domain: domain, Version: 1, SQL: "SELECT 1"})
	for name, m := range map[string]Migration{
		"duplicate":    {Domain: domain, Version: 1, SQL: "SELECT 1"},
		"zero version": {Domain: domain, Version: 0},
		"empty domain": {Version: 1},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			Register(m)
		}()
	}
	regMu.Lock()
	delete(registry, domain)
	regMu.Unlock()
}

func TestSecondOpenFailsWithLockError(t *testing.T) {
	path := dbPath(t)
	db := mustOpen(t, path)

	_, err := Open(path, Options{})
	if err == nil {
		t.Fatal("second Open succeeded while the first is open")
	}
	stateDir := filepath.Dir(filepath.Dir(path))
	want := fmt.Sprintf("another Pincer gateway is already using state dir %s (lock %s held by pid %d)", stateDir, path+".lock", os.Getpid())
	if err.Error() != want {
		t.Fatalf("err = %q\nwant  %q", err, want)
	}

	// The first handle is unaffected, and closing it frees the lock.
	if err := db.PutKV("t", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	db2 := mustOpen(t, path)
	if v, ok, _ := db2.GetKV("t", "k"); !ok || string(v) != "v" {
		t.Fatal("data lost across reopen")
	}
}

func TestCorruptFile(t *testing.T) {
	path := dbPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	garbage := []byte(strings.Repeat("this is definitely not an sqlite database\n", 200))
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	if err == nil {
		t.Fatal("garbage file opened")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "state database "+path+" is corrupt: ") ||
		!strings.HasSuffix(msg, "; move it aside (the gateway will create a new one) or restore a backup") {
		t.Fatalf("err = %q", msg)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatal("errors.Is(err, ErrCorrupt) is false")
	}
	// The garbage is left untouched for the user to inspect.
	if got, _ := os.ReadFile(path); string(got) != string(garbage) {
		t.Fatal("corrupt file was modified")
	}
	// And the lock was released, so moving the file aside lets the next
	// start succeed.
	if err := os.Rename(path, path+".corrupt"); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, path)
}

func TestCorruptPageDetectedByQuickCheck(t *testing.T) {
	path := dbPath(t)
	db := mustOpen(t, path)
	if _, err := db.Exec("CREATE TABLE big (x TEXT)"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if _, err := db.Exec("INSERT INTO big VALUES (?)", strings.Repeat("x", 500)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Smash a page in the middle of the file, keeping the header valid.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	junk := []byte(strings.Repeat("\xff\x00\x13", 700))
	if _, err := f.WriteAt(junk, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	f.Close()

	_, err = Open(path, Options{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("err = %v", err)
	}
}

func TestKVRoundTrip(t *testing.T) {
	db := mustOpen(t, dbPath(t))
	if _, ok, err := db.GetKV("ns", "missing"); ok || err != nil {
		t.Fatalf("missing key: ok=%v err=%v", ok, err)
	}
	blob := []byte{0, 1, 2, 0xff, 'x'}
	if err := db.PutKV("ns", "k", blob); err != nil {
		t.Fatal(err)
	}
	v, ok, err := db.GetKV("ns", "k")
	if err != nil || !ok || string(v) != string(blob) {
		t.Fatalf("get = %v %v %v", v, ok, err)
	}
	if _, ok, _ := db.GetKV("other", "k"); ok {
		t.Fatal("namespaces are not separate")
	}
	if err := db.PutKV("ns", "k", []byte("second")); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := db.GetKV("ns", "k"); string(v) != "second" {
		t.Fatalf("overwrite: %q", v)
	}
	if err := db.PutKV("ns", "empty", nil); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := db.GetKV("ns", "empty"); !ok || v == nil || len(v) != 0 {
		t.Fatalf("empty value: %v %v", v, ok)
	}
	if err := db.DeleteKV("ns", "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.GetKV("ns", "k"); ok {
		t.Fatal("delete failed")
	}
	var at int64
	db.QueryRow("SELECT updated_at_ms FROM kv WHERE namespace='ns' AND key='empty'").Scan(&at)
	if at <= 0 {
		t.Fatal("updated_at_ms not set")
	}
}

func TestPathWithSpecialCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "we?ird #dir %20", "state", "pincer.sqlite")
	db := mustOpen(t, path)
	if err := db.PutKV("a", "b", []byte("c")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the literal path: %v", err)
	}
}
