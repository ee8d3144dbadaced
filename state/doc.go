// Package state is labform's record of the lab: a bbolt file (by default
// .labform/state.db in the lab directory) with one record per resource
// instance, the lineage and a serial that grows with every write, an intent
// journal, the outputs, and backups.
//
// The store knows nothing of schemas or cty types: records hold values as
// bytes (cty msgpack of the schema's type), which the planner encodes and
// decodes. What the store promises is durability and order:
//
//   - Begin records an intent durably before an action runs; Settle writes
//     the action's result and closes the intent in one transaction. A crash
//     between the two leaves the intent open, and the next plan looks for
//     the object it may have created.
//   - Concurrent writes are grouped: a single writer commits everything that
//     queued up while the previous transaction was syncing, so apply is
//     bound by parallelism, not by fsyncs, and no caller returns before its
//     write is on disk.
//   - bbolt's file lock keeps a second writer out; the holder is recorded
//     beside the file so that the refusal can name it. ReadOnly opens read
//     a consistent snapshot without the lock and write nothing.
//   - A damaged file is never an empty state. Open checks the whole file
//     before bbolt uses it (check.go walks bbolt's pages with bounds
//     checks, since bbolt panics, faults or recurses without end on a bad
//     page; then every bucket, record, intent and output, and a SHA-256 of
//     the content that every commit rewrites) and returns a *CorruptError
//     naming the newest good backup. A panic or memory fault inside bbolt
//     after that is caught the same way. Restore puts a backup back.
//
// Both backends, the bbolt Store here and state/etcd, make their writes through
// writes.go: each write is a Write run against the Writes interface, so
// what a put, settle, replace or import stores, and in what order, is
// written once; a backend supplies a transaction that implements Writes.
//
// It imports nothing of labform: records hold bytes, so the store
// never needs a schema, config or provider.
package state
