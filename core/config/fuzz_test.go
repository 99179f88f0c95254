package config

import (
	"encoding/json"
	"testing"
)

func FuzzParse(f *testing.F) {
	seeds := []string{
		``, `{}`, `[]`, `null`, `"x"`, `1e999`, `{gateway:{port:18789}}`,
		`// c
{ gateway: { bind: 'custom', customBindHost: "::1", auth: { mode: "none", }, }, }`,
		`{gateway:{port:1.5, trustedProxies:["1.2.3.4/33", 5]}}`,
		`{agents:{entries:{main:null, "x y":{}}, defaults:{model:{primary:1, fallbacks:[null]}}}}`,
		`{models:{providers:{p:{baseUrl:"http://[::1", models:[{}, 3, {id:""}]}}}}`,
		`{logging:{level:"info", maxFileBytes:-0, maxFiles:Infinity}}`,
		`{a:0x1F, b:.5, c:+1, d:NaN, "\u0000":"\ud800"}`,
		`{gateway:{auth:{rateLimit:{windowMs:9007199254740993}}}}`,
		"{\n  gateway: {\n    port: @\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, issues, _, err := Parse(data)
		if err != nil {
			if cfg != nil {
				t.Fatal("config returned with a syntax error")
			}
			se, ok := err.(*SyntaxError)
			if !ok || se.Line < 1 || se.Column < 1 {
				t.Fatalf("bad syntax error %#v", err)
			}
			return
		}
		if cfg == nil {
			t.Fatal("nil config without error")
		}
		if _, ok := cfg.Agents.Entries[MainAgentID]; !ok {
			t.Fatal("main agent missing")
		}
		if len(issues) == 0 {
			// A valid config must produce a usable listen address or the
			// documented tailnet refusal, and serialise.
			if cfg.Gateway.Bind != BindTailnet {
				if _, err := cfg.ListenAddr(); err != nil {
					t.Fatalf("valid config, ListenAddr: %v", err)
				}
			}
		}
		if !json.Valid(cfg.JSON()) {
			t.Fatal("invalid JSON")
		}
		_ = Redact(any(cfg.Raw))
	})
}
