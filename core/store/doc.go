// Package store opens the gateway's SQLite state database and keeps its
// schema current.
//
// One gateway process owns a state directory at a time: two gateways writing
// the same pairing, token and cron tables would silently undo each other, so
// Open takes an exclusive lock next to the database and refuses to start
// when it is held, naming the holder's pid. The database runs in WAL mode so
// readers (status, logs, the CLI) never block the writer.
//
// Schema changes are owned by the packages that use the tables: each
// registers numbered migrations for its own domain in init(), and Open applies
// whatever a given database has not seen yet, each migration in its own
// transaction. Domains evolve independently, so adding a table for cron never
// renumbers pairing's migrations.
//
// The SQLite driver needs cgo. A build without cgo still compiles (so the
// CLI and cross-builds work) but Open reports that the store is unavailable.
package store
