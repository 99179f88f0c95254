package config

// NodesSettings is gateway.nodes.* in typed form.
type NodesSettings struct {
	// AutoApproveLocal pairs new local devices silently (default true).
	AutoApproveLocal bool
	// AutoApproveCIDRs pairs fresh scopeless node requests from these
	// ranges silently.
	AutoApproveCIDRs []string
	// CommandsAllow opts commands into the node allowlist (also dangerous
	// ones); CommandsDeny removes them.
	CommandsAllow, CommandsDeny []string
}

// NodesSettings reads gateway.nodes (pairing.autoApproveLocal,
// pairing.autoApproveCidrs, commands.allow, commands.deny).
func (g *GatewayConfig) NodesSettings() NodesSettings {
	s := NodesSettings{AutoApproveLocal: true}
	if pairing, ok := g.Nodes["pairing"].(map[string]any); ok {
		if b, ok := pairing["autoApproveLocal"].(bool); ok {
			s.AutoApproveLocal = b
		}
		s.AutoApproveCIDRs = anyStrings(pairing["autoApproveCidrs"])
	}
	if cmds, ok := g.Nodes["commands"].(map[string]any); ok {
		s.CommandsAllow = anyStrings(cmds["allow"])
		s.CommandsDeny = anyStrings(cmds["deny"])
	}
	return s
}

func anyStrings(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		if s, ok := e.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}
