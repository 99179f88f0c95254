//go:build cgo

package access

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/store"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openAt(t *testing.T, path string, clock *testClock) (*Store, *store.DB) {
	t.Helper()
	db, err := store.Open(path, store.Options{SkipIntegrityCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	s.now = clock.now
	return s, db
}

func newStore(t *testing.T) (*Store, *testClock) {
	t.Helper()
	c := &testClock{t: time.UnixMilli(1_795_311_433_000)}
	s, _ := openAt(t, filepath.Join(t.TempDir(), "state", "pincer.sqlite"), c)
	return s, c
}

func dm(id string) channel.Inbound {
	return channel.Inbound{Channel: "telegram", Peer: channel.Peer{Kind: channel.PeerDirect, ID: id},
		Sender: channel.Sender{ID: id, Username: "user" + id, DisplayName: "User " + id}, Mentioned: true}
}

func group(gid, sender string, mentioned bool) channel.Inbound {
	return channel.Inbound{Channel: "telegram", Peer: channel.Peer{Kind: channel.PeerGroup, ID: gid},
		Sender: channel.Sender{ID: sender, Username: "user" + sender}, Mentioned: mentioned}
}

func check(t *testing.T, s *Store, account string, p Policy, in channel.Inbound) Decision {
	t.Helper()
	d, err := s.Check(context.Background(), "telegram", account, p, in)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPairingCodeOncePerRequest(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	d := check(t, s, "", Policy{}, dm("1"))
	if d.Allow || d.PairingCode == "" || d.Code != CodeDMPairingRequired {
		t.Fatalf("first message: %+v", d)
	}
	if len(d.PairingCode) != CodeLength || strings.ContainsAny(d.PairingCode, "0O1I") {
		t.Fatalf("code %q", d.PairingCode)
	}
	for range 3 {
		again := check(t, s, "", Policy{}, dm("1"))
		if again.Allow || again.PairingCode != "" || again.Code != CodePairingPending {
			t.Fatalf("later message while pending: %+v", again)
		}
	}
	pend, err := s.Pending(ctx, "telegram")
	if err != nil || len(pend) != 1 {
		t.Fatalf("pending %v %v", pend, err)
	}
	r := pend[0]
	if r.Channel != "telegram" || r.AccountID != "default" || r.Code != d.PairingCode || r.SenderID != "1" ||
		r.SenderName != "User 1" || r.SenderUsername != "user1" || !r.ExpiresAt.Equal(r.CreatedAt.Add(time.Hour)) {
		t.Fatalf("request %+v", r)
	}
}

func TestApprovePersists(t *testing.T) {
	ctx := context.Background()
	c := &testClock{t: time.UnixMilli(1_795_311_433_000)}
	path := filepath.Join(t.TempDir(), "state", "pincer.sqlite")
	s, db := openAt(t, path, c)
	d := check(t, s, "Work", Policy{}, dm("42"))
	if d.PairingCode == "" {
		t.Fatalf("%+v", d)
	}
	r, err := s.Approve(ctx, "Telegram", strings.ToLower(d.PairingCode))
	if err != nil {
		t.Fatal(err)
	}
	if r.SenderID != "42" || r.AccountID != "work" {
		t.Fatalf("approved %+v", r)
	}
	if ok, err := s.Allowed(ctx, "telegram", "work", "42"); !ok || err != nil {
		t.Fatalf("allowed %v %v", ok, err)
	}
	if ok, _ := s.Allowed(ctx, "telegram", "", "42"); ok {
		t.Fatal("approval leaked to another account")
	}
	if ok, _ := s.Allowed(ctx, "discord", "work", "42"); ok {
		t.Fatal("approval leaked to another channel")
	}
	if d := check(t, s, "work", Policy{}, dm("42")); !d.Allow || d.Code != CodeDMAllowlisted {
		t.Fatalf("after approval: %+v", d)
	}
	if pend, _ := s.Pending(ctx, "telegram"); len(pend) != 0 {
		t.Fatalf("request still pending: %v", pend)
	}
	if _, err := s.Approve(ctx, "telegram", d.PairingCode); !errors.Is(err, ErrUnknownCode) {
		t.Fatalf("second approve: %v", err)
	}

	// Restart: the approval survives.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s2, _ := openAt(t, path, c)
	if ok, err := s2.Allowed(ctx, "telegram", "work", "42"); !ok || err != nil {
		t.Fatalf("after reopen: %v %v", ok, err)
	}
	if d := check(t, s2, "work", Policy{}, dm("42")); !d.Allow {
		t.Fatalf("after reopen: %+v", d)
	}
	// Approvals count under allowlist too, not under open without "*".
	if d := check(t, s2, "work", Policy{DMPolicy: DMPolicyAllowlist}, dm("42")); !d.Allow {
		t.Fatalf("allowlist: %+v", d)
	}
	if d := check(t, s2, "work", Policy{DMPolicy: DMPolicyOpen, AllowFrom: []string{"7"}}, dm("42")); d.Allow {
		t.Fatalf("open widened by pairing: %+v", d)
	}
	// Revoke.
	if ok, err := s2.Revoke(ctx, "telegram", "work", "42"); !ok || err != nil {
		t.Fatalf("revoke %v %v", ok, err)
	}
	if d := check(t, s2, "work", Policy{DMPolicy: DMPolicyAllowlist}, dm("42")); d.Allow {
		t.Fatalf("after revoke: %+v", d)
	}
}

func TestPairingExpiry(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	first := check(t, s, "", Policy{}, dm("1")).PairingCode
	c.advance(59 * time.Minute)
	if d := check(t, s, "", Policy{}, dm("1")); d.PairingCode != "" || d.Code != CodePairingPending {
		t.Fatalf("before expiry: %+v", d)
	}
	if pend, _ := s.Pending(ctx, "telegram"); len(pend) != 1 {
		t.Fatalf("pending %v", pend)
	}
	c.advance(time.Minute) // exactly one hour: still valid
	if pend, _ := s.Pending(ctx, ""); len(pend) != 1 {
		t.Fatalf("pending at 1h %v", pend)
	}
	c.advance(time.Millisecond)
	if pend, _ := s.Pending(ctx, "telegram"); len(pend) != 0 {
		t.Fatalf("expired request listed: %v", pend)
	}
	if _, err := s.Approve(ctx, "telegram", first); !errors.Is(err, ErrUnknownCode) {
		t.Fatalf("approve expired: %v", err)
	}
	// A later message opens a new request with a new code.
	d := check(t, s, "", Policy{}, dm("1"))
	if d.PairingCode == "" || d.Code != CodeDMPairingRequired {
		t.Fatalf("after expiry: %+v", d)
	}
	pend, _ := s.Pending(ctx, "telegram")
	if len(pend) != 1 || !pend[0].CreatedAt.Equal(c.now()) {
		t.Fatalf("new request %v", pend)
	}
}

func TestPendingCap(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	codes := map[string]bool{}
	for _, id := range []string{"1", "2", "3"} {
		d := check(t, s, "", Policy{}, dm(id))
		if d.PairingCode == "" || codes[d.PairingCode] {
			t.Fatalf("sender %s: %+v", id, d)
		}
		codes[d.PairingCode] = true
		c.advance(time.Minute)
	}
	d := check(t, s, "", Policy{}, dm("4"))
	if d.Allow || d.PairingCode != "" || d.Code != CodePairingQueueFull || !strings.Contains(d.Reason, "queue full") {
		t.Fatalf("fourth sender: %+v", d)
	}
	if pend, _ := s.Pending(ctx, "telegram"); len(pend) != 3 {
		t.Fatalf("pending %d", len(pend))
	}
	// Pending senders keep their requests; another account has its own cap.
	if d := check(t, s, "", Policy{}, dm("2")); d.Code != CodePairingPending {
		t.Fatalf("pending sender: %+v", d)
	}
	if d := check(t, s, "alerts", Policy{}, dm("4")); d.PairingCode == "" {
		t.Fatalf("other account: %+v", d)
	}
	// Approving one frees a slot.
	pend, _ := s.Pending(ctx, "telegram")
	if _, err := s.Approve(ctx, "telegram", pend[0].Code); err != nil {
		t.Fatal(err)
	}
	if d := check(t, s, "", Policy{}, dm("5")); d.PairingCode == "" {
		t.Fatalf("after approve: %+v", d)
	}
	if d := check(t, s, "", Policy{}, dm("6")); d.Code != CodePairingQueueFull {
		t.Fatalf("full again: %+v", d)
	}
	// Expiry frees slots too.
	c.advance(time.Hour)
	if d := check(t, s, "", Policy{}, dm("6")); d.PairingCode == "" {
		t.Fatalf("after expiry: %+v", d)
	}
}

func TestDismiss(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	code := check(t, s, "", Policy{}, dm("1")).PairingCode
	if err := s.Dismiss(ctx, "telegram", code); err != nil {
		t.Fatal(err)
	}
	if err := s.Dismiss(ctx, "telegram", code); !errors.Is(err, ErrUnknownCode) {
		t.Fatalf("second dismiss: %v", err)
	}
	if ok, _ := s.Allowed(ctx, "telegram", "", "1"); ok {
		t.Fatal("dismiss approved")
	}
	if pend, _ := s.Pending(ctx, "telegram"); len(pend) != 0 {
		t.Fatal("still pending")
	}
	// Not a block: the sender may ask again.
	if d := check(t, s, "", Policy{}, dm("1")); d.PairingCode == "" {
		t.Fatalf("after dismiss: %+v", d)
	}
	if _, err := s.Approve(ctx, "discord", code); !errors.Is(err, ErrUnknownCode) {
		t.Fatalf("approve on another channel: %v", err)
	}
	if _, err := s.Approve(ctx, "telegram", ""); !errors.Is(err, ErrUnknownCode) {
		t.Fatalf("empty code: %v", err)
	}
}

func TestDMPolicies(t *testing.T) {
	s, _ := newStore(t)
	tests := []struct {
		name string
		p    Policy
		in   channel.Inbound
		code string
	}{
		{"allowlist by id", Policy{DMPolicy: DMPolicyAllowlist, AllowFrom: []string{"1"}}, dm("1"), CodeDMAllowlisted},
		{"allowlist by prefixed id", Policy{DMPolicy: DMPolicyAllowlist, AllowFrom: []string{"telegram:1"}}, dm("1"), CodeDMAllowlisted},
		{"allowlist by @username", Policy{DMPolicy: DMPolicyAllowlist, AllowFrom: []string{"@User1"}, DangerouslyAllowNameMatching: true}, dm("1"), CodeDMAllowlisted},
		{"@username off by default", Policy{DMPolicy: DMPolicyAllowlist, AllowFrom: []string{"@user1"}}, dm("1"), CodeDMNotAllowlisted},
		{"allowlist miss", Policy{DMPolicy: DMPolicyAllowlist, AllowFrom: []string{"2"}}, dm("1"), CodeDMNotAllowlisted},
		{"allowlist empty", Policy{DMPolicy: DMPolicyAllowlist}, dm("1"), CodeDMNotAllowlisted},
		{"allowlist wildcard", Policy{DMPolicy: DMPolicyAllowlist, AllowFrom: []string{"*"}}, dm("1"), CodeDMAllowlisted},
		{"open with wildcard", Policy{DMPolicy: DMPolicyOpen, AllowFrom: []string{"*"}}, dm("1"), CodeDMOpen},
		{"open restricted by allowFrom", Policy{DMPolicy: DMPolicyOpen, AllowFrom: []string{"2"}}, dm("1"), CodeDMNotAllowlisted},
		{"open listed", Policy{DMPolicy: DMPolicyOpen, AllowFrom: []string{"1"}}, dm("1"), CodeDMAllowlisted},
		{"open without allowFrom", Policy{DMPolicy: DMPolicyOpen}, dm("1"), CodeDMNotAllowlisted},
		{"disabled", Policy{DMPolicy: DMPolicyDisabled, AllowFrom: []string{"*"}}, dm("1"), CodeDMDisabled},
		{"unknown policy", Policy{DMPolicy: "public"}, dm("1"), CodeDMUnknownPolicy},
		{"pairing allowlisted skips pairing", Policy{AllowFrom: []string{"1"}}, dm("1"), CodeDMAllowlisted},
		{"dm alias kind", Policy{DMPolicy: DMPolicyAllowlist, AllowFrom: []string{"1"}}, func() channel.Inbound { i := dm("1"); i.Peer.Kind = "dm"; return i }(), CodeDMAllowlisted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := check(t, s, "", tt.p, tt.in)
			wantAllow := tt.code == CodeDMAllowlisted || tt.code == CodeDMOpen
			if d.Code != tt.code || d.Allow != wantAllow || d.PairingCode != "" {
				t.Fatalf("got %+v, want code %s", d, tt.code)
			}
		})
	}
	if pend, _ := s.Pending(context.Background(), ""); len(pend) != 0 {
		t.Fatalf("non-pairing policies created requests: %v", pend)
	}
}

func boolp(b bool) *bool { return &b }

func TestGroups(t *testing.T) {
	s, _ := newStore(t)
	// A DM approval must not authorize the sender in groups.
	code := check(t, s, "", Policy{}, dm("9")).PairingCode
	if _, err := s.Approve(context.Background(), "telegram", code); err != nil {
		t.Fatal(err)
	}
	owner := []string{"1"}
	topic := group("-100", "1", true)
	topic.Peer.ThreadID, topic.Peer.TopicKind = "42", "topic"
	thread := channel.Inbound{Channel: "discord", Peer: channel.Peer{Kind: channel.PeerChannel, ID: "TH"},
		ParentPeer: &channel.Peer{Kind: channel.PeerChannel, ID: "P1"}, Sender: channel.Sender{ID: "1"}, Mentioned: true}
	tests := []struct {
		name    string
		p       Policy
		in      channel.Inbound
		code    string
		observe bool
	}{
		{"default allowlist without groups", Policy{AllowFrom: owner}, group("-100", "1", true), CodeGroupEmptyAllowlist, false},
		{"disabled", Policy{GroupPolicy: GroupPolicyDisabled, Groups: []string{"*"}, AllowFrom: owner}, group("-100", "1", true), CodeGroupDisabled, false},
		{"unknown policy", Policy{GroupPolicy: "public", Groups: []string{"*"}}, group("-100", "1", true), CodeGroupUnknownPolicy, false},
		{"listed group, allowFrom fallback", Policy{Groups: []string{"-100"}, AllowFrom: owner}, group("-100", "1", true), CodeGroupAllowed, false},
		{"listed group, sender not allowed", Policy{Groups: []string{"-100"}, AllowFrom: owner}, group("-100", "2", true), CodeGroupNotAllowlisted, false},
		{"pairing approval is DM only", Policy{Groups: []string{"-100"}, AllowFrom: owner}, group("-100", "9", true), CodeGroupNotAllowlisted, false},
		{"groupAllowFrom replaces allowFrom", Policy{Groups: []string{"-100"}, AllowFrom: owner, GroupAllowFrom: []string{"2"}}, group("-100", "1", true), CodeGroupNotAllowlisted, false},
		{"groupAllowFrom", Policy{Groups: []string{"-100"}, GroupAllowFrom: []string{"2"}}, group("-100", "2", true), CodeGroupAllowed, false},
		{"groupAllowFrom wildcard", Policy{Groups: []string{"-100"}, GroupAllowFrom: []string{"*"}}, group("-100", "7", true), CodeGroupAllowed, false},
		{"group @username with name matching", Policy{Groups: []string{"-100"}, GroupAllowFrom: []string{"@user7"}, DangerouslyAllowNameMatching: true}, group("-100", "7", true), CodeGroupAllowed, false},
		{"no sender allowlist", Policy{Groups: []string{"-100"}}, group("-100", "1", true), CodeGroupEmptyAllowlist, false},
		{"group not listed", Policy{Groups: []string{"-200"}, AllowFrom: owner}, group("-100", "1", true), CodeGroupNotListed, false},
		{"wildcard group", Policy{Groups: []string{"*"}, AllowFrom: owner}, group("-100", "1", true), CodeGroupAllowed, false},
		{"open without groups admits any group and sender", Policy{GroupPolicy: GroupPolicyOpen}, group("-100", "7", true), CodeGroupAllowed, false},
		{"open still honors the group allowlist", Policy{GroupPolicy: GroupPolicyOpen, Groups: []string{"-200"}}, group("-100", "7", true), CodeGroupNotListed, false},
		{"mention required by default", Policy{Groups: []string{"-100"}, AllowFrom: owner}, group("-100", "1", false), CodeMentionRequired, true},
		{"mention not required", Policy{Groups: []string{"-100"}, AllowFrom: owner, RequireMention: boolp(false)}, group("-100", "1", false), CodeGroupAllowed, false},
		{"mention explicitly required", Policy{GroupPolicy: GroupPolicyOpen, RequireMention: boolp(true)}, group("-100", "1", false), CodeMentionRequired, true},
		{"not allowlisted beats mention", Policy{Groups: []string{"-100"}, AllowFrom: owner}, group("-100", "2", false), CodeGroupNotAllowlisted, false},
		{"per-group settings allowlist the group", Policy{GroupSettings: map[string]GroupSettings{"-100": {}}, AllowFrom: owner}, group("-100", "1", true), CodeGroupAllowed, false},
		{"per-group requireMention off", Policy{GroupSettings: map[string]GroupSettings{"-100": {RequireMention: boolp(false)}}, AllowFrom: owner}, group("-100", "1", false), CodeGroupAllowed, false},
		{"wildcard settings requireMention off", Policy{GroupSettings: map[string]GroupSettings{"*": {RequireMention: boolp(false)}}, AllowFrom: owner, RequireMention: boolp(true)}, group("-100", "1", false), CodeGroupAllowed, false},
		{"specific settings beat wildcard", Policy{GroupSettings: map[string]GroupSettings{"*": {RequireMention: boolp(false)}, "-100": {RequireMention: boolp(true)}}, AllowFrom: owner}, group("-100", "1", false), CodeMentionRequired, true},
		{"per-group open policy", Policy{GroupSettings: map[string]GroupSettings{"-100": {GroupPolicy: GroupPolicyOpen}}, AllowFrom: owner}, group("-100", "7", true), CodeGroupAllowed, false},
		{"per-group disabled", Policy{Groups: []string{"*"}, GroupSettings: map[string]GroupSettings{"-100": {GroupPolicy: GroupPolicyDisabled}}, GroupPolicy: GroupPolicyOpen}, group("-100", "7", true), CodeGroupDisabled, false},
		{"per-group allowFrom", Policy{GroupSettings: map[string]GroupSettings{"-100": {AllowFrom: []string{"7"}}}, AllowFrom: owner}, group("-100", "7", true), CodeGroupAllowed, false},
		{"per-group allowFrom replaces", Policy{GroupSettings: map[string]GroupSettings{"-100": {AllowFrom: []string{"7"}}}, AllowFrom: owner}, group("-100", "1", true), CodeGroupNotAllowlisted, false},
		{"per-group allowFrom applies under open", Policy{GroupPolicy: GroupPolicyOpen, GroupSettings: map[string]GroupSettings{"-100": {AllowFrom: []string{"7"}}}}, group("-100", "1", true), CodeGroupNotAllowlisted, false},
		{"topic listed by group id", Policy{Groups: []string{"-100"}, AllowFrom: owner}, topic, CodeGroupAllowed, false},
		{"topic listed by topic id", Policy{Groups: []string{"-100:topic:42"}, AllowFrom: owner}, topic, CodeGroupAllowed, false},
		{"other topic not listed", Policy{Groups: []string{"-100:topic:43"}, AllowFrom: owner}, topic, CodeGroupNotListed, false},
		{"thread listed by parent", Policy{Groups: []string{"P1"}, AllowFrom: owner}, thread, CodeGroupAllowed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := s.Check(context.Background(), tt.in.Channel, "", tt.p, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Code != tt.code || d.Allow != (tt.code == CodeGroupAllowed) || d.Observe != tt.observe || d.PairingCode != "" {
				t.Fatalf("got %+v, want %s", d, tt.code)
			}
		})
	}
	if pend, _ := s.Pending(context.Background(), ""); len(pend) != 0 {
		t.Fatalf("group messages created pairing requests: %v", pend)
	}
}

func TestBotsIgnored(t *testing.T) {
	s, _ := newStore(t)
	open := Policy{DMPolicy: DMPolicyOpen, AllowFrom: []string{"*"}, GroupPolicy: GroupPolicyOpen, RequireMention: boolp(false)}
	bot := func(in channel.Inbound, mentioned bool) channel.Inbound {
		in.Sender.IsBot = true
		in.Mentioned = mentioned
		return in
	}
	self := dm("1")
	self.Sender.IsSelf = true
	tests := []struct {
		name      string
		allowBots string
		in        channel.Inbound
		code      string
	}{
		{"bot dm ignored by default", "", bot(dm("1"), true), CodeBot},
		{"bot group ignored by default", "", bot(group("-1", "1", true), true), CodeBot},
		{"allowBots false", AllowBotsOff, bot(dm("1"), true), CodeBot},
		{"allowBots true", AllowBotsOn, bot(group("-1", "1", false), false), CodeGroupAllowed},
		{"allowBots mentions with mention", AllowBotsMentions, bot(group("-1", "1", true), true), CodeGroupAllowed},
		{"allowBots mentions without mention", AllowBotsMentions, bot(group("-1", "1", false), false), CodeBot},
		{"self always ignored", AllowBotsOn, self, CodeSelf},
		{"humans unaffected", "", group("-1", "1", false), CodeGroupAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := open
			p.AllowBots = tt.allowBots
			d := check(t, s, "", p, tt.in)
			if d.Code != tt.code || d.Allow != (tt.code == CodeGroupAllowed) {
				t.Fatalf("got %+v, want %s", d, tt.code)
			}
		})
	}
	// A bot never triggers pairing.
	if d := check(t, s, "", Policy{}, bot(dm("5"), true)); d.PairingCode != "" || d.Code != CodeBot {
		t.Fatalf("bot pairing: %+v", d)
	}
}

func TestOwners(t *testing.T) {
	s, _ := newStore(t)
	p := Policy{DMPolicy: DMPolicyAllowlist, AllowFrom: []string{"2"}, OwnerAllowFrom: []string{"telegram:1", "discord:2"}}
	d := check(t, s, "", p, dm("1"))
	if d.Allow || !d.IsOwner {
		t.Fatalf("owner is not allowlisted but is an owner: %+v", d)
	}
	d = check(t, s, "", p, dm("2"))
	if !d.Allow || d.IsOwner {
		t.Fatalf("allowlisted non-owner: %+v", d)
	}
	g := group("-1", "1", true)
	d = check(t, s, "", Policy{GroupPolicy: GroupPolicyOpen, OwnerAllowFrom: []string{"1"}}, g)
	if !d.Allow || !d.IsOwner {
		t.Fatalf("owner in group: %+v", d)
	}
	pairing := check(t, s, "", Policy{OwnerAllowFrom: []string{"telegram:3"}}, dm("3"))
	if !pairing.IsOwner || pairing.PairingCode == "" {
		t.Fatalf("owner still pairs for chat access: %+v", pairing)
	}
}

func TestOpenRequiresMigration(t *testing.T) {
	if _, err := Open(context.Background(), nil); err == nil {
		t.Fatal("nil db accepted")
	}
}

func TestPendingCapUnderConcurrency(t *testing.T) {
	s, _ := newStore(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := 0
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := string(rune('a' + i))
			for range 2 { // each sender writes twice; only the first may get a code
				d, err := s.Check(context.Background(), "telegram", "", Policy{}, dm(id))
				if err != nil {
					t.Error(err)
					return
				}
				if d.PairingCode != "" {
					mu.Lock()
					codes++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	pend, err := s.Pending(context.Background(), "telegram")
	if err != nil || len(pend) != MaxPending || codes != MaxPending {
		t.Fatalf("%d codes sent, %d pending (%v)", codes, len(pend), err)
	}
}
