package telegram

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/secrets"
)

func testEnv(vars map[string]string) channel.Env {
	return channel.Env{Getenv: func(k string) string { return vars[k] }, Log: slog.New(slog.DiscardHandler)}
}

func acct(id string, raw map[string]any) channel.AccountConfig {
	return channel.AccountConfig{Channel: "telegram", AccountID: id, Enabled: true, Raw: raw}
}

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKindMetadata(t *testing.T) {
	k := Kind()
	if k.ID != "telegram" || k.Label != "Telegram" || k.DetailLabel != "Telegram Bot" || k.SystemImage != "paperplane" || k.New == nil {
		t.Fatalf("kind %+v", k)
	}
	// a failed New returns a nil interface, not a typed nil
	if p, err := k.New(testEnv(nil), acct("default", nil)); err == nil || p != nil {
		t.Fatalf("New without token = %v, %v", p, err)
	}
}

func TestTokenResolution(t *testing.T) {
	file := writeFile(t, "token", "\n  111:from-file \n")
	sec := secrets.NewMemory()
	if err := sec.Set(channel.SecretKey("telegram", "default", "botToken"), "333:from-secrets"); err != nil {
		t.Fatal(err)
	}
	if err := sec.Set(channel.SecretKey("telegram", "work", "botToken"), "555:work-secrets"); err != nil {
		t.Fatal(err)
	}
	env := testEnv(map[string]string{EnvToken: "444:from-env"})
	for _, c := range []struct {
		name, account string
		raw           map[string]any
		secrets       secrets.Store
		token, source string
	}{
		{"tokenFile wins", "default", map[string]any{"tokenFile": file, "botToken": "222:cfg"}, sec, "111:from-file", "tokenFile"},
		{"botToken next", "default", map[string]any{"botToken": " 222:cfg "}, sec, "222:cfg", "config"},
		{"then secrets", "default", map[string]any{"botToken": ""}, sec, "333:from-secrets", "secrets"},
		{"then env", "default", nil, nil, "444:from-env", "env"},
		{"named account secrets", "work", nil, sec, "555:work-secrets", "secrets"},
	} {
		e := env
		e.Secrets = c.secrets
		cfg, err := ConfigFromAccount(e, acct(c.account, c.raw))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if cfg.Token != c.token || cfg.TokenSource != c.source {
			t.Fatalf("%s: token %q from %q", c.name, cfg.Token, cfg.TokenSource)
		}
		p, err := Kind().New(e, acct(c.account, c.raw))
		if err != nil {
			t.Fatalf("%s: New: %v", c.name, err)
		}
		if got := p.(*Plugin).StatusDetails()["tokenSource"]; got != c.source {
			t.Fatalf("%s: tokenSource detail %v", c.name, got)
		}
	}

	// TELEGRAM_BOT_TOKEN is for the default account only
	_, err := ConfigFromAccount(env, acct("work", nil))
	if err == nil {
		t.Fatal("named account took the env token")
	}
	for _, want := range []string{"channels.telegram.accounts.work.botToken", "tokenFile", "pincer channels login telegram --account work"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no-token error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), EnvToken) {
		t.Errorf("named account error suggests %s: %v", EnvToken, err)
	}
	_, err = ConfigFromAccount(testEnv(nil), acct("default", nil))
	for _, want := range []string{"channels.telegram.botToken", "channels.telegram.tokenFile", EnvToken, "`pincer channels login telegram`"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("default no-token error lacks %q: %v", want, err)
		}
	}
}

func TestTokenFileChecks(t *testing.T) {
	real := writeFile(t, "token", "111:abc")
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	empty := writeFile(t, "empty", " \n")
	for _, c := range []struct {
		name, path, want string
	}{
		{"symlink", link, "symbolic link"},
		{"directory", t.TempDir(), "not a regular file"},
		{"missing", filepath.Join(t.TempDir(), "nope"), "cannot read"},
		{"empty", empty, "is empty"},
	} {
		_, err := ConfigFromAccount(testEnv(nil), acct("work", map[string]any{"tokenFile": c.path, "botToken": "1:fallback"}))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "channels.telegram.accounts.work.tokenFile") {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestAccountConfigKeys(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"botToken": "123:abc", "dmPolicy": "pairing", "allowFrom": []any{"1"}, "groups": map[string]any{}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	env := testEnv(nil)
	env.StateDir = "/state"

	cfg, err := ConfigFromAccount(env, acct("default", base(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxMediaBytes != 0 || cfg.TextChunkLimit != 0 || cfg.DisableLinkPreview || cfg.WebhookURL != "" ||
		cfg.MediaDir != filepath.Join("/state", "media", "telegram", "default") || cfg.OffsetStore != nil {
		t.Fatalf("defaults: %+v", cfg)
	}
	p, err := New(cfg)
	if err != nil || p.TextLimit() != 4096 || p.cfg.MaxMediaBytes != DefaultMaxMediaBytes {
		t.Fatalf("New defaults: %v", err)
	}

	env.MediaDir = "/media/tg"
	cfg, err = ConfigFromAccount(env, acct("work", base(map[string]any{
		"mediaMaxMb": 2.5, "textChunkLimit": float64(3000), "linkPreview": false, "apiRoot": "http://127.0.0.1:8081/",
		"webhookUrl": "https://gw.example/tg", "webhookSecret": "s3cret",
	})))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxMediaBytes != 2.5*(1<<20) || cfg.TextChunkLimit != 3000 || !cfg.DisableLinkPreview || cfg.MediaDir != "/media/tg" ||
		cfg.WebhookURL != "https://gw.example/tg" || cfg.WebhookSecret != "s3cret" {
		t.Fatalf("keys: %+v", cfg)
	}
	p, err = New(cfg)
	if err != nil || p.WebhookPath() != "/telegram-webhook/work" || p.apiRoot != "http://127.0.0.1:8081" {
		t.Fatalf("New: %v", err)
	}
	cfg, _ = ConfigFromAccount(env, acct("default", base(map[string]any{"webhookUrl": "https://gw.example/tg", "webhookSecret": "s"})))
	if p, err = New(cfg); err != nil || p.WebhookPath() != "/telegram-webhook" {
		t.Fatalf("default webhook path: %v", err)
	}
	cfg, _ = ConfigFromAccount(env, acct("work", base(map[string]any{"webhookUrl": "https://gw.example/tg", "webhookSecret": "s", "webhookPath": "/hooks/tg"})))
	if p, err = New(cfg); err != nil || p.WebhookPath() != "/hooks/tg" {
		t.Fatalf("explicit webhook path: %v", err)
	}

	for _, c := range []struct {
		extra map[string]any
		want  string
	}{
		{map[string]any{"mediaMaxMb": "10"}, "channels.telegram.accounts.work.mediaMaxMb: expected a number"},
		{map[string]any{"mediaMaxMb": -1.0}, "channels.telegram.accounts.work.mediaMaxMb: expected a positive number"},
		{map[string]any{"textChunkLimit": 5000.0}, "channels.telegram.accounts.work.textChunkLimit: expected a whole number from 1 to 4096"},
		{map[string]any{"textChunkLimit": 10.5}, "textChunkLimit: expected a whole number"},
		{map[string]any{"textChunkLimit": true}, "textChunkLimit: expected a number, got a boolean"},
		{map[string]any{"linkPreview": "no"}, "channels.telegram.accounts.work.linkPreview: expected true or false"},
		{map[string]any{"botToken": 123.0}, "channels.telegram.accounts.work.botToken: expected a string, got a number"},
		{map[string]any{"tokenFile": []any{}}, "tokenFile: expected a string, got an array"},
		{map[string]any{"apiRoot": "https://api.telegram.org/bot123:abc"}, "channels.telegram.accounts.work.apiRoot: apiRoot must be the Bot API root only"},
		{map[string]any{"apiRoot": "not a url"}, "apiRoot"},
		{map[string]any{"webhookUrl": "https://gw.example/tg"}, "channels.telegram.accounts.work.webhookSecret: required with webhookUrl"},
		{map[string]any{"webhookUrl": "gw.example/tg", "webhookSecret": "s"}, "webhookUrl: expected an https:// URL"},
		{map[string]any{"webhookUrl": "https://gw.example/tg", "webhookSecret": "s", "webhookPath": "tg"}, "webhookPath: expected a path starting with /"},
		{map[string]any{"webhookSecret": 1.0}, "webhookSecret: expected a string"},
	} {
		_, err := Kind().New(env, acct("work", base(c.extra)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.extra, err, c.want)
		} else if strings.Contains(err.Error(), "123:abc") {
			t.Errorf("%v: error leaks the token: %v", c.extra, err)
		}
	}
}

func TestLogout(t *testing.T) {
	ctx := context.Background()
	sec := secrets.NewMemory()
	key := channel.SecretKey("telegram", "work", "botToken")
	if err := sec.Set(key, "555:stored"); err != nil {
		t.Fatal(err)
	}
	env := testEnv(map[string]string{EnvToken: "444:env"})
	env.Secrets = sec
	p, err := Kind().New(env, acct("work", nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.(channel.Logouter).Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sec.Get(key); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("token still stored: %v", err)
	}
	if p.Status().Linked {
		t.Fatal("still linked after logout")
	}
	if _, err := Kind().New(env, acct("work", nil)); err == nil {
		t.Fatal("account still has a token after logout")
	}

	for _, c := range []struct {
		account string
		raw     map[string]any
		want    string
	}{
		{"work", map[string]any{"botToken": "1:cfg"}, "channels.telegram.accounts.work.botToken"},
		{"default", map[string]any{"tokenFile": writeFile(t, "tok", "1:file")}, "channels.telegram.tokenFile"},
		{"default", nil, EnvToken},
	} {
		p, err := Kind().New(testEnv(map[string]string{EnvToken: "444:env"}), acct(c.account, c.raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.(channel.Logouter).Logout(ctx); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("logout of a %v token: %v", c.raw, err)
		}
	}
}
