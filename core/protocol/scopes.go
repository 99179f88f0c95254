package protocol

// Operator scopes.
const (
	ScopeAdmin         = "operator.admin"
	ScopeRead          = "operator.read"
	ScopeWrite         = "operator.write"
	ScopeApprovals     = "operator.approvals"
	ScopeQuestions     = "operator.questions"
	ScopePairing       = "operator.pairing"
	ScopeTalk          = "operator.talk"
	ScopeTalkSecrets   = "operator.talk.secrets"
	ScopeSessionsRead  = "operator.sessions.read"
	ScopeSessionsWrite = "operator.sessions.write"
)

// KnownScopes is the closed set of operator scopes; others are ignored.
var KnownScopes = []string{
	ScopeAdmin, ScopeRead, ScopeWrite, ScopeApprovals, ScopeQuestions, ScopePairing,
	ScopeTalk, ScopeTalkSecrets, ScopeSessionsRead, ScopeSessionsWrite,
}

// CLIDefaultScopes is what the CLI asks for when it wants everything.
var CLIDefaultScopes = []string{
	ScopeAdmin, ScopeRead, ScopeWrite, ScopeApprovals, ScopeQuestions, ScopePairing, ScopeTalkSecrets,
}

// IsKnownScope reports whether s is an operator scope.
func IsKnownScope(s string) bool {
	for _, k := range KnownScopes {
		if k == s {
			return true
		}
	}
	return false
}

// ScopeSatisfied reports whether the granted set satisfies required, with
// the implication rules of spec §4.2: admin satisfies everything; write
// satisfies read, talk and the sessions scopes; read or sessions.write
// satisfy sessions.read.
func ScopeSatisfied(granted []string, required string) bool {
	if required == "" {
		return true
	}
	for _, g := range granted {
		if g == required || g == ScopeAdmin {
			return true
		}
		switch g {
		case ScopeWrite:
			switch required {
			case ScopeRead, ScopeTalk, ScopeSessionsRead, ScopeSessionsWrite:
				return true
			}
		case ScopeRead, ScopeSessionsWrite:
			if required == ScopeSessionsRead {
				return true
			}
		}
	}
	return false
}

// AnyScopeSatisfied reports whether granted satisfies at least one of required.
func AnyScopeSatisfied(granted []string, required []string) bool {
	for _, r := range required {
		if ScopeSatisfied(granted, r) {
			return true
		}
	}
	return false
}
