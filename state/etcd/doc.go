// Package etcd keeps a lab's state in etcd, shared by everyone who works
// on the lab, with the model of the state file (package state): a lineage,
// a serial, one key per instance, the intent journal, the outputs and the
// last backups, all under one prefix:
//
//	PREFIX/meta/{lineage,serial,format_version,next_intent,lab_id,lab_dir,lab_name}
//	PREFIX/resources/ADDRESS    a record (JSON, as in the state file)
//	PREFIX/journal/SEQ          an open intent (SEQ: 16 hex digits)
//	PREFIX/outputs/NAME
//	PREFIX/backups/SERIAL-TIME  a gzip'd copy of all of the above
//	PREFIX/lock                 the holder of the lock, on its lease
//
// A run that writes holds the lock: a key that exists only while its
// lease is kept alive, so a holder that dies frees it after the lease's
// TTL. Every write is a transaction that compares the lease of the lock
// key with the run's own and the revision of the serial with the last one
// written, so no two writers can interleave and nothing lands once the
// lock is lost. While it holds the lock a run is the only writer: it reads
// the whole state once, in one range read, and serves reads from that copy.
//
// A write that cannot reach etcd (the lease was lost, or etcd is down) is
// kept in a local file; the next run writes it before anything else.
//
// It imports state only.
package etcd
