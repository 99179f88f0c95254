// Package config owns Pincer's on-disk configuration: where the state
// directory and pincer.json live, how the JSON5 file is validated, and the
// secrets the gateway creates for itself on first start.
//
// The file keeps OpenClaw's key names wherever the concept is the same so an
// existing openclaw.json can be moved over with few edits; keys that OpenClaw
// knows but Pincer does not implement are accepted with a warning rather than
// rejected, while genuine typos are reported as errors. Validation reports
// every problem at once because a gateway that refuses to start should tell
// the user everything that is wrong in one go, not one edit-restart cycle at a
// time.
//
// Loading never consults the environment; ApplyEnv is a separate step so that
// config.get can show the file as written while the running gateway uses the
// effective values.
package config
