package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/protocol"
)

// pairingListFixture is a channels.pairing.list result in OpenClaw's
// shape: two requests on telegram (one code pending on two accounts) and
// one on discord, created and expiring relative to now.
func pairingListFixture(now time.Time, channel string) string {
	iso := func(d time.Duration) string { return now.Add(d).UTC().Format(time.RFC3339Nano) }
	req := func(id, ch, label, acct, sender, code, username, name string, created, expires time.Duration) string {
		meta := map[string]string{"code": code}
		if username != "" {
			meta["username"] = username
		}
		if name != "" {
			meta["name"] = name
		}
		m, _ := json.Marshal(meta)
		return fmt.Sprintf(`{"requestId":%q,"channel":%q,"channelLabel":%q,"accountId":%q,"senderId":%q,"senderLabel":"userId",`+
			`"metadata":%s,"createdAt":%q,"lastSeenAt":%q,"expiresAt":%q,"notifySupported":true}`,
			id, ch, label, acct, sender, m, iso(created), iso(created), iso(expires))
	}
	var reqs []string
	if channel == "" || channel == "telegram" {
		reqs = append(reqs,
			req("req-1", "telegram", "Telegram", "default", "12345", "ABCD2345", "alice", "Alice", -(12*time.Second+500*time.Millisecond), 59*time.Minute+48*time.Second+300*time.Millisecond),
			req("req-2", "telegram", "Telegram", "default", "777", "WXYZ6789", "", "", -(3*time.Minute+500*time.Millisecond), 57*time.Minute+300*time.Millisecond),
			req("req-3", "telegram", "Telegram", "work", "888", "WXYZ6789", "bob", "", -(10*time.Second+500*time.Millisecond), 30*time.Minute+300*time.Millisecond))
	}
	if channel == "" {
		reqs = append(reqs, req("req-4", "discord", "Discord", "default", "999000111", "QQQQ2222", "", "Carol", -(2*time.Hour+500*time.Millisecond), -time.Minute))
	}
	list := "[]"
	if len(reqs) > 0 {
		list = "[" + reqs[0]
		for _, r := range reqs[1:] {
			list += "," + r
		}
		list += "]"
	}
	return `{"accounts":[{"channel":"telegram","channelLabel":"Telegram","accountId":"default","notifySupported":true},` +
		`{"channel":"telegram","channelLabel":"Telegram","accountId":"work","notifySupported":true}],` +
		`"requests":` + list + `,"commandOwnerConfigured":true,"limits":{"pendingPerAccount":3,"ttlMs":3600000}}`
}

func TestPairing(t *testing.T) {
	isolate(t)
	rec := newRecorder(t, map[string]func(map[string]any) (any, error){
		"channels.pairing.list": func(p map[string]any) (any, error) {
			ch, _ := p["channel"].(string)
			return json.RawMessage(pairingListFixture(time.Now(), ch)), nil
		},
		"channels.pairing.approve": func(p map[string]any) (any, error) {
			res := map[string]any{"requestId": p["requestId"], "senderId": "12345", "notification": "not-requested"}
			if p["notify"] == true {
				res["notification"] = "sent"
			}
			if p["requestId"] == "req-3" {
				res["senderId"] = 888 // a number is read as well
			}
			return res, nil
		},
		"channels.pairing.dismiss": func(p map[string]any) (any, error) {
			return map[string]any{"requestId": p["requestId"], "senderId": "777"}, nil
		},
	})
	pairing := []string{protocol.ScopePairing}

	mustOutput(t, "pairing list", rec.run(t, "pairing", "list"),
		"CHANNEL   ACCOUNT  CODE      SENDER                REQUESTED  EXPIRES\n"+
			"telegram  default  ABCD2345  Alice @alice (12345)  12s ago    in 59m 48s\n"+
			"telegram  default  WXYZ6789  777                   3m 0s ago  in 57m 0s\n"+
			"telegram  work     WXYZ6789  @bob (888)            10s ago    in 30m 0s\n"+
			"discord   default  QQQQ2222  Carol (999000111)     2h 0m ago  expired\n"+
			"Approve with `pincer pairing approve <channel> <code>` (--notify to tell the sender), or `pincer pairing dismiss <channel> <code>`.\n")
	rec.expectCalls(t, "pairing list", pairing, `channels.pairing.list {}`)

	r := rec.run(t, "pairing", "list", "--channel", "telegram", "--json")
	var raw map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &raw) != nil || len(asSlice(raw["requests"])) != 3 {
		t.Fatalf("pairing list --json: %+v", r)
	}
	rec.expectCalls(t, "pairing list --channel", pairing, `channels.pairing.list {"channel":"telegram"}`)

	// approve by code, any case, with --notify.
	mustOutput(t, "approve", rec.run(t, "pairing", "approve", "telegram", "abcd2345", "--notify"),
		"approved 12345 on telegram; notification: sent\n")
	rec.expectCalls(t, "approve", pairing,
		`channels.pairing.list {"channel":"telegram"}`,
		`channels.pairing.approve {"accountId":"default","channel":"telegram","notify":true,"requestId":"req-1"}`)

	// A code pending on two accounts needs --account.
	mustFail(t, "ambiguous code", rec.run(t, "pairing", "approve", "telegram", "WXYZ6789"), exitError,
		"code WXYZ6789 is pending on 2 telegram accounts (default, work); pick one with --account")
	rec.expectCalls(t, "ambiguous code", pairing, `channels.pairing.list {"channel":"telegram"}`)
	mustOutput(t, "approve --account", rec.run(t, "pairing", "approve", "telegram", "WXYZ6789", "--account", "work"),
		"approved 888 on telegram; notification: not-requested\n")
	rec.expectCalls(t, "approve --account", pairing,
		`channels.pairing.list {"channel":"telegram"}`,
		`channels.pairing.approve {"accountId":"work","channel":"telegram","requestId":"req-3"}`)

	// dismiss by request id.
	mustOutput(t, "dismiss", rec.run(t, "pairing", "dismiss", "telegram", "req-2"),
		"dismissed the pairing request WXYZ6789 of 777 on telegram\n")
	rec.expectCalls(t, "dismiss", pairing,
		`channels.pairing.list {"channel":"telegram"}`,
		`channels.pairing.dismiss {"accountId":"default","channel":"telegram","requestId":"req-2"}`)

	r = rec.run(t, "pairing", "dismiss", "telegram", "req-2", "--json")
	if r.code != 0 || canonJSON(t, []byte(r.stdout)) != `{"requestId":"req-2","senderId":"777"}` {
		t.Fatalf("dismiss --json: %+v", r)
	}
	rec.take()

	mustFail(t, "unknown code", rec.run(t, "pairing", "approve", "telegram", "NOPE1234"), exitError,
		"no pending pairing request with code NOPE1234 on telegram; run pincer pairing list")
	mustFail(t, "code on another account", rec.run(t, "pairing", "approve", "telegram", "ABCD2345", "--account", "work"), exitError,
		"no pending pairing request with code ABCD2345 on telegram account work; run pincer pairing list")
	rec.expectCalls(t, "unknown code", pairing, `channels.pairing.list {"channel":"telegram"}`, `channels.pairing.list {"channel":"telegram"}`)

	mustFail(t, "missing code", rec.run(t, "pairing", "approve", "telegram"), exitUsage, "accepts 2 arg(s)")
	mustFail(t, "dismiss has no --notify", rec.run(t, "pairing", "dismiss", "telegram", "X", "--notify"), exitUsage, "unknown flag: --notify")
	rec.expectCalls(t, "usage errors", pairing)
}

func TestPairingListEmpty(t *testing.T) {
	isolate(t)
	rec := newRecorder(t, map[string]func(map[string]any) (any, error){
		"channels.pairing.list": func(map[string]any) (any, error) {
			return map[string]any{"accounts": []any{}, "requests": []any{}, "commandOwnerConfigured": false}, nil
		},
	})
	mustOutput(t, "empty", rec.run(t, "pairing", "list"), "No pending pairing requests.\n")
}
