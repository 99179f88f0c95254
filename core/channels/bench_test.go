package channels_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// BenchmarkInboundToRun measures the channel pipeline on the real gateway:
// each op is one inbound DM (from one of 50 senders, each its own session
// under dmScope per-peer) handed to the manager until (a) its agent run
// starts (the lifecycle start event) and (b) the reply reaches the
// platform. The fake model answers at once; debounce is off. Reports p50
// and p99 of both.
//
//	go test -run x -bench InboundToRun -benchtime 1000x ./core/channels/
func BenchmarkInboundToRun(b *testing.B) {
	m, err := agenttest.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	m.SetReply(func(string) string { return "ok" })
	k := newFakeChat()
	cfg := gatewayConfig(m, `channels: {fake: {dmPolicy: "open", allowFrom: ["*"]}}, session: {dmScope: "per-peer"},
  messages: {inbound: {debounceMs: 0}}`)
	g := daemontest.Start(b, daemon.Options{ChannelKinds: []channel.Kind{k.kind()}}, cfg)
	var mu sync.Mutex
	started := map[string]chan struct{}{}
	opt := g.Options(protocol.ScopeRead)
	opt.OnEvent = func(ev protocol.EventFrame) {
		if ev.Event != "agent" {
			return
		}
		var p struct {
			SessionKey string `json:"sessionKey"`
			Stream     string `json:"stream"`
			Data       struct {
				Phase string `json:"phase"`
			} `json:"data"`
		}
		_ = json.Unmarshal(ev.Payload, &p)
		if p.Stream != "lifecycle" || p.Data.Phase != "start" {
			return
		}
		mu.Lock()
		ch := started[p.SessionKey]
		delete(started, p.SessionKey)
		mu.Unlock()
		if ch != nil {
			close(ch)
		}
	}
	g.DialWith(b, opt)
	acc := k.account(b, "default")
	var toRun, toReply []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sender := fmt.Sprint(1000 + i%50)
		ch := make(chan struct{})
		mu.Lock()
		started["agent:main:direct:"+sender] = ch
		mu.Unlock()
		before := acc.sentCount()
		t0 := time.Now()
		acc.deliverTB(b, channel.Inbound{Peer: channel.Peer{Kind: channel.PeerDirect, ID: sender},
			Sender: channel.Sender{ID: sender}, EventID: fmt.Sprint(i), MessageID: fmt.Sprint(i), Text: "ping", Mentioned: true})
		select {
		case <-ch:
			toRun = append(toRun, time.Since(t0))
		case <-time.After(10 * time.Second):
			b.Fatal("run did not start")
		}
		deadline := time.Now().Add(10 * time.Second)
		for acc.sentCount() == before {
			if time.Now().After(deadline) {
				b.Fatal("no reply")
			}
			time.Sleep(50 * time.Microsecond)
		}
		toReply = append(toReply, time.Since(t0))
	}
	b.StopTimer()
	report := func(name string, d []time.Duration) {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, name+"-p99-ms")
	}
	report("start", toRun)
	report("reply", toReply)
}
