package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		msg   string
		id    string
		ok    bool
		isRes bool
	}{
		{`{"type":"res","id":"42","ok":true,"payload":{"ok":true}}`, "42", true, true},
		{`{"type":"res","id":"42","ok":false,"error":{"code":"FORBIDDEN"}}`, "42", false, true},
		{`{"type":"event","event":"health","payload":{},"seq":3}`, "", false, false},
		// Other key orders and escapes fall back to encoding/json.
		{`{"ok":true,"id":"7","type":"res"}`, "7", true, true},
		{`{"type":"res","id":"a\"b","ok":true}`, `a"b`, true, true},
		{`{"type":"event","id":"1","event":"x"}`, "", false, false},
		{`not json`, "", false, false},
	}
	for _, c := range cases {
		id, ok, isRes := classify([]byte(c.msg))
		if string(id) != c.id || ok != c.ok || isRes != c.isRes {
			t.Errorf("classify(%s) = %q %v %v, want %q %v %v", c.msg, id, ok, isRes, c.id, c.ok, c.isRes)
		}
	}
}

func TestAppendReq(t *testing.T) {
	var f struct {
		Type, ID, Method string
		Params           map[string]string
	}
	b := appendReq(nil, 17, "system-event", []byte(`{"text":"x"}`))
	if err := json.Unmarshal(b, &f); err != nil || f.Type != "req" || f.ID != "17" || f.Method != "system-event" || f.Params["text"] != "x" {
		t.Fatalf("%s → %+v %v", b, f, err)
	}
	if got := string(appendReq(nil, 3, "health", nil)); got != `{"type":"req","id":"3","method":"health"}` {
		t.Fatalf("got %s", got)
	}
}

func TestConnectFrame(t *testing.T) {
	d := newDialer("ws://127.0.0.1:1", `to"ken`)
	var f struct {
		ID     string `json:"id"`
		Method string `json:"method"`
		Params struct {
			MinProtocol, MaxProtocol int
			Client                   struct{ ID, Mode string }
			Role                     string
			Scopes                   []string
			Auth                     struct{ Token string }
		} `json:"params"`
	}
	if err := json.Unmarshal(d.connectFrame(scopeAdmin), &f); err != nil {
		t.Fatal(err)
	}
	p := f.Params
	if f.ID != connectID || f.Method != "connect" || p.MinProtocol != 4 || p.MaxProtocol != 4 || p.Client.ID != "cli" ||
		p.Client.Mode != "cli" || p.Role != "operator" || len(p.Scopes) != 1 || p.Scopes[0] != scopeAdmin || p.Auth.Token != `to"ken` {
		t.Fatalf("connect frame: %+v", f)
	}
}

func TestParseUint(t *testing.T) {
	for in, want := range map[string]uint64{"0": 0, "1001": 1001, "18446744073709551": 18446744073709551} {
		if v, ok := parseUint([]byte(in)); !ok || v != want {
			t.Errorf("parseUint(%q) = %d %v", in, v, ok)
		}
	}
	for _, in := range []string{"", "1:x", "-1", "12345678901234567890"} {
		if _, ok := parseUint([]byte(in)); ok {
			t.Errorf("parseUint(%q) accepted", in)
		}
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := summarize(ds)
	if l.N != 100 || l.MinMs != 1 || l.P50Ms != 50 || l.P90Ms != 90 || l.P99Ms != 99 || l.MaxMs != 100 || l.MeanMs != 50.5 {
		t.Fatalf("%+v", l)
	}
	if l := summarize(nil); l.N != 0 {
		t.Fatalf("%+v", l)
	}
	if l := summarize([]time.Duration{3 * time.Millisecond}); l.P50Ms != 3 || l.P99Ms != 3 {
		t.Fatalf("%+v", l)
	}
}

func TestParseLists(t *testing.T) {
	got, err := ParseInts("1, 16,64,5k,10_000")
	if err != nil || len(got) != 5 || got[3] != 5000 || got[4] != 10000 {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"", "0", "x", "1,-2"} {
		if _, err := ParseInts(bad); err == nil {
			t.Errorf("ParseInts(%q) accepted", bad)
		}
	}
	s, err := ParseSections("startup, RPC,conns")
	if err != nil || len(s) != 3 || s[1] != SectionRPC {
		t.Fatalf("%v %v", s, err)
	}
	if _, err := ParseSections("rpc,bogus"); err == nil {
		t.Fatal("bogus section accepted")
	}
}

func TestProcFiles(t *testing.T) {
	if _, err := procRSS(1 << 30); err == nil {
		t.Fatal("RSS of a missing process")
	}
	pid := selfPID()
	if pid == 0 {
		t.Skip("no /proc")
	}
	rss, err := procRSS(pid)
	if err != nil || rss < 1<<20 {
		t.Fatalf("own RSS %d %v", rss, err)
	}
	if _, err := procCPU(pid); err != nil {
		t.Fatal(err)
	}
}

func selfPID() int {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		return 0
	}
	return os.Getpid()
}

func TestListenerFrames(t *testing.T) {
	srv, cli := net.Pipe()
	defer srv.Close()
	l := &listener{nc: cli, br: bufio.NewReaderSize(cli, 4096)}
	big := bytes.Repeat([]byte("y"), 5000)
	go func() {
		var out []byte
		out = append(out, 0x81, 5)
		out = append(out, "hello"...)
		out = append(out, 0x89, 2, 'p', '1') // ping
		out = append(out, 0x81, 126, byte(len(big)>>8), byte(len(big)))
		out = append(out, big...)
		out = append(out, 0x01, 3, 'a', 'b', 'c') // fragmented text
		out = append(out, 0x80, 2, 'd', 'e')
		_, _ = srv.Write(out)
	}()
	pong := make(chan []byte, 1)
	go func() {
		b := make([]byte, 8)
		n, _ := io.ReadFull(srv, b)
		pong <- b[:n]
	}()
	for _, want := range [][]byte{[]byte("hello"), big, []byte("abcde")} {
		got, err := l.next()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("next = %.40q, %v; want %.40q", got, err, want)
		}
	}
	p := <-pong
	if p[0] != 0x8A || p[1] != 0x80|2 || p[6]^p[2] != 'p' || p[7]^p[3] != '1' {
		t.Fatalf("pong frame % x", p)
	}
	for msg, want := range map[string]int64{
		`{"type":"event","event":"tick","payload":{"seq":9},"seq":12}`:                           12,
		`{"type":"event","event":"presence","payload":{},"seq":3,"stateVersion":{"presence":4}}`: 3,
		`{"type":"event","event":"connect.challenge","payload":{}}`:                              0,
	} {
		if got := eventSeq([]byte(msg)); got != want {
			t.Errorf("eventSeq(%s) = %d, want %d", msg, got, want)
		}
	}
}
