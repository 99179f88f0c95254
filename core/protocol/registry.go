package protocol

// MethodParams maps each method the gateway implements to the zero value of
// its params type. The JSON Schema in assets/schema is generated from it and
// the gateway validates every request's params against that schema.
// Domain issues add their methods here together with their types.
var MethodParams = map[string]any{
	"health":             HealthParams{},
	"status":             StatusParams{},
	"system-presence":    SystemPresenceParams{},
	"system-event":       SystemEventParams{},
	"last-heartbeat":     LastHeartbeatParams{},
	"set-heartbeats":     SetHeartbeatsParams{},
	"wake":               WakeParams{},
	"logs.tail":          LogsTailParams{},
	"channels.status":    ChannelsStatusParams{},
	"config.get":         ConfigGetParams{},
	"config.schema":      ConfigSchemaParams{},
	"models.list":        ModelsListParams{},
	"agent.identity.get": AgentIdentityGetParams{},
}

// Shapes are the other message shapes exported as JSON Schema.
var Shapes = map[string]any{
	"RequestFrame":         RequestFrame{},
	"ResponseFrame":        ResponseFrame{},
	"EventFrame":           EventFrame{},
	"ErrorShape":           ErrorShape{},
	"ConnectParams":        ConnectParams{},
	"HelloOk":              HelloOk{},
	"PresenceEntry":        PresenceEntry{},
	"HealthSnapshot":       HealthSnapshot{},
	"StateVersion":         StateVersion{},
	"TickEvent":            TickEvent{},
	"ShutdownEvent":        ShutdownEvent{},
	"HeartbeatEvent":       HeartbeatEvent{},
	"ChallengeEvent":       ChallengeEvent{},
	"MissingScopeDetails":  MissingScopeDetails{},
	"StatusResult":         StatusResult{},
	"LogsTailResult":       LogsTailResult{},
	"ChannelsStatusResult": ChannelsStatusResult{},
	"ConfigGetResult":      ConfigGetResult{},
	"ModelsListResult":     ModelsListResult{},
	"AgentIdentity":        AgentIdentity{},
}
