// Package etcdtest runs a real etcd cluster inside a test process, through
// etcd's embed package: members on 127.0.0.1 ports, data in the test's
// temporary directory, nothing to install. Its election ticks are short so
// that a leader's loss is over in a fraction of a second.
//
// Test code only; it imports nothing of labform.
package etcdtest
