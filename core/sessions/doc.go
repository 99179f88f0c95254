// Package sessions owns conversations: session keys, the per-session
// transcript in SQLite, history paging for chat.history, run records that
// survive a crash, the agent workspace files that shape the system prompt,
// and transcript compaction.
//
// A session key is "agent:<agentId>:<rest>" ("agent:main:main" is the main
// session of the default agent). A key names a conversation slot; the
// sessionId inside it changes on every reset, and each transcript message
// belongs to one sessionId. Resetting a session therefore starts an empty
// transcript without destroying the old one: earlier transcripts stay in the
// database under their old sessionId (readable with HistoryOptions.SessionID)
// until the session is deleted.
//
// Every write runs in one SQLite transaction and returns only after it has
// committed, so the gateway can acknowledge a turn as soon as Append returns.
package sessions
