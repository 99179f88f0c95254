package telegram

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/go-telegram/bot/models"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/store"
)

func openStore(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(path, store.Options{SkipIntegrityCheck: true})
	if err != nil {
		t.Skipf("no SQLite store in this build: %v", err)
	}
	return db
}

func TestSQLiteOffsetStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "pincer.sqlite")
	db := openStore(t, path)
	defer db.Close()
	if v := db.SchemaVersion(Domain); v != 1 {
		t.Fatalf("schema version %d", v)
	}
	s := NewSQLiteOffsetStore(db)
	ctx := context.Background()
	if off, err := s.LoadOffset(ctx, "default", 7); err != nil || off != 0 {
		t.Fatalf("empty store: %d, %v", off, err)
	}
	if err := s.SaveOffset(ctx, "default", 7, 101); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveOffset(ctx, "default", 7, 102); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveOffset(ctx, "work", 8, 5); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		account string
		bot     int64
		want    int64
	}{{"default", 7, 102}, {"work", 8, 5}, {"default", 9, 0}, {"other", 7, 0}} {
		if off, err := s.LoadOffset(ctx, c.account, c.bot); err != nil || off != c.want {
			t.Fatalf("%s/%d: %d, %v; want %d", c.account, c.bot, off, err, c.want)
		}
	}
}

// The polling offset survives a gateway restart: the second run, on the
// reopened database, neither sees the handled updates again nor misses
// the new one.
func TestPollingOffsetSurvivesRestart(t *testing.T) {
	f := newFake(t)
	f.RetainConfirmed() // only our saved offset keeps old updates away
	path := filepath.Join(t.TempDir(), "state", "pincer.sqlite")
	a := acct("default", map[string]any{"botToken": f.Token(), "apiRoot": f.URL()})
	run := func() (*running, *store.DB) {
		db := openStore(t, path)
		env := testEnv(nil)
		env.DB, env.HTTPClient, env.StateDir = db, f.Client(), t.TempDir()
		p, err := Kind().New(env, a)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.(*Plugin).offsets.(*SQLiteOffsetStore); !ok {
			t.Fatalf("offset store %T", p.(*Plugin).offsets)
		}
		return startPlugin(t, p.(*Plugin), nil), db
	}

	r1, db1 := run()
	chat, alice := privateChat(42), user(42, "alice")
	f.AddUpdate(models.Update{Message: message(1, chat, alice, "one")})
	last := f.AddUpdate(models.Update{Message: message(2, chat, alice, "two")})
	for _, want := range []string{"one", "two"} {
		if in := recv(t, r1.inbox); in.Text != want {
			t.Fatalf("got %q, want %q", in.Text, want)
		}
	}
	if err := r1.stop(); err != nil {
		t.Fatal(err)
	}
	if off, _ := NewSQLiteOffsetStore(db1).LoadOffset(context.Background(), "default", f.Bot().ID); off != last+1 {
		t.Fatalf("saved offset %d, want %d", off, last+1)
	}
	if err := db1.Close(); err != nil {
		t.Fatal(err)
	}

	r2, db2 := run()
	defer db2.Close()
	f.AddUpdate(models.Update{Message: message(3, chat, alice, "three")})
	if in := recv(t, r2.inbox); in.Text != "three" || in.Peer != (channel.Peer{Kind: channel.PeerDirect, ID: "42"}) {
		t.Fatalf("after restart got %+v", in)
	}
	if err := r2.stop(); err != nil {
		t.Fatal(err)
	}
}
