package etcd

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labform/labform/state"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// PasswordEnv is the environment variable the password comes from.
const PasswordEnv = "LABFORM_ETCD_PASSWORD"

// UnsavedFile is the file, in the lab's .labform directory, that keeps
// the writes a run could not make.
const UnsavedFile = "etcd-unsaved.json"

// Config says where the state is.
type Config struct {
	Endpoints []string
	Prefix    string
	// LockTTL is the lease's TTL: how long a dead holder keeps the lock.
	LockTTL                   time.Duration
	CAFile, CertFile, KeyFile string
	Username, Password        string
}

// Options for Open.
type Options struct {
	LockTimeout time.Duration
	Command     string
	// ReadOnly reads the state without taking the lock; writes fail.
	ReadOnly bool
	// LocalDir keeps the writes that could not reach etcd (the lab's
	// .labform directory).
	LocalDir string
}

const (
	maxTxnOps   = 100     // etcd's default limit is 128 operations a transaction
	maxTxnBytes = 1 << 20 // and 1.5 MiB a request
	// DefaultLockTTL is the lease's TTL when the lab gives none.
	DefaultLockTTL = 30 * time.Second
)

// Store is a state in etcd. Its methods are safe for concurrent use.
type Store struct {
	cli      *clientv3.Client
	cfg      Config
	p        string // the prefix, ending in "/"
	readOnly bool
	unsaved  string // the local file of writes that could not be made

	sess    *concurrency.Session
	lockKey string
	holder  Holder
	cluster uint64

	mu        sync.Mutex
	kv        map[string][]byte // the state, keys relative to the prefix
	serialRev int64             // mod revision of meta/serial as last written
	replayed  int

	ops  chan *state.Op[*mut]
	done chan struct{}

	lostOnce sync.Once
	lost     chan struct{}
	lostErr  error

	closeOnce sync.Once
	closeErr  error
}

// Holder is what the lock key says about the run that holds it.
type Holder struct {
	ID      string    `json:"id"` // the lease, for force-unlock
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

func (h Holder) String() string {
	return fmt.Sprintf("pid %d on %s (%s), since %s, lock ID %s", h.PID, h.Host, h.Command, h.Since.Format(time.RFC3339), h.ID)
}

var _ state.Backend = (*Store)(nil)

// Client connects to the etcd of cfg.
func Client(cfg Config) (*clientv3.Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("the etcd backend has no endpoints")
	}
	var tlsCfg *tls.Config
	if cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != "" {
		info := transport.TLSInfo{CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, TrustedCAFile: cfg.CAFile}
		var err error
		if tlsCfg, err = info.ClientConfig(); err != nil {
			return nil, fmt.Errorf("the etcd backend's TLS files: %w", err)
		}
	}
	return clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: 5 * time.Second, TLS: tlsCfg,
		Username: cfg.Username, Password: cfg.Password, Logger: zap.NewNop(),
		DialKeepAliveTime: 2 * time.Second, DialKeepAliveTimeout: 2 * time.Second})
}

func prefixOf(cfg Config) string { return strings.TrimSuffix(cfg.Prefix, "/") + "/" }

// Open opens the state under cfg.Prefix. Without ReadOnly it takes the
// lock (waiting up to LockTimeout), creates the state if there is none,
// and writes what an earlier run could not (the unsaved file) before
// anything else.
func Open(cfg Config, opts Options) (st *Store, err error) {
	if strings.Trim(cfg.Prefix, "/") == "" {
		return nil, fmt.Errorf("the etcd backend needs a prefix")
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = DefaultLockTTL
	}
	cli, err := Client(cfg)
	if err != nil {
		return nil, err
	}
	s := &Store{cli: cli, cfg: cfg, p: prefixOf(cfg), readOnly: opts.ReadOnly, lockKey: prefixOf(cfg) + "lock",
		ops: make(chan *state.Op[*mut], 1024), done: make(chan struct{}), lost: make(chan struct{})}
	if opts.LocalDir != "" {
		s.unsaved = filepath.Join(opts.LocalDir, UnsavedFile)
	}
	defer func() {
		if err != nil {
			if s.sess != nil {
				s.sess.Close()
			}
			cli.Close()
		}
	}()
	if !opts.ReadOnly {
		if err := s.lock(opts); err != nil {
			return nil, err
		}
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	pending, err := s.readUnsaved()
	if err != nil {
		return nil, err
	}
	if opts.ReadOnly {
		if len(pending) > 0 {
			s.mu.Lock()
			s.applyCache(pending)
			s.mu.Unlock()
		}
		close(s.done)
		return s, nil
	}
	if _, ok := s.kv["meta/lineage"]; !ok {
		if err := s.create(); err != nil {
			return nil, err
		}
	} else if v, err := strconv.ParseUint(string(s.kv["meta/format_version"]), 10, 64); err != nil || v > state.FormatVersion {
		return nil, fmt.Errorf("the state in etcd (%s) has format %q; this labform reads up to %d: upgrade labform", s.Path(), s.kv["meta/format_version"], state.FormatVersion)
	}
	go s.writer()
	go func() {
		select {
		case <-s.sess.Done():
			s.markLost(fmt.Errorf("the lock's lease (%s) expired: etcd was not reachable for %v", s.holder.ID, cfg.LockTTL))
		case <-s.done:
		}
	}()
	if len(pending) > 0 {
		if err := s.write(func(m *mut) error {
			for _, x := range pending {
				x.apply(m)
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("writing what an earlier run could not write to etcd (%s): %w", s.unsaved, err)
		}
		os.Remove(s.unsaved)
		s.replayed = len(pending)
	}
	return s, nil
}

// Replayed is how many writes of an earlier run Open made (from the
// unsaved file).
func (s *Store) Replayed() int { return s.replayed }

// Lost is closed when the state can no longer be written: the lock's
// lease was lost or etcd could not be reached. Writes from then on are
// kept in the unsaved file.
func (s *Store) Lost() <-chan struct{} { return s.lost }

func (s *Store) markLost(err error) {
	s.lostOnce.Do(func() {
		s.lostErr = err
		close(s.lost)
	})
}

func (s *Store) lostReason() error {
	select {
	case <-s.lost:
		return s.lostErr
	default:
		return nil
	}
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// connectTimeout bounds the first request of a run: an etcd that cannot
// be reached is reported, not waited for.
const connectTimeout = 5 * time.Second

func (s *Store) lock(opts Options) error {
	ttl := int64((s.cfg.LockTTL + time.Second - 1) / time.Second)
	// The lease is granted here, with a timeout: an etcd that cannot be
	// reached (or refuses the TLS handshake) is an error, not a hang.
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	lease, err := s.cli.Grant(ctx, ttl)
	cancel()
	if err != nil {
		return fmt.Errorf("etcd at %s did not grant the lock's lease (%w): check that etcd runs there, and the backend's TLS files and user", strings.Join(s.cfg.Endpoints, ","), err)
	}
	sess, err := concurrency.NewSession(s.cli, concurrency.WithLease(lease.ID))
	if err != nil {
		return fmt.Errorf("etcd at %s: %w", strings.Join(s.cfg.Endpoints, ","), err)
	}
	s.sess = sess
	host, _ := os.Hostname()
	s.holder = Holder{ID: strconv.FormatInt(int64(sess.Lease()), 16), PID: os.Getpid(), Host: host, Command: opts.Command, Since: time.Now().UTC()}
	hb, _ := json.Marshal(s.holder)
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = 50 * time.Millisecond
	}
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := s.ctx()
		resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(s.lockKey), "=", 0)).
			Then(clientv3.OpPut(s.lockKey, string(hb), clientv3.WithLease(sess.Lease()))).
			Else(clientv3.OpGet(s.lockKey)).Commit()
		cancel()
		if err != nil {
			return fmt.Errorf("taking the state's lock %s: %w", s.lockKey, err)
		}
		if resp.Succeeded {
			return nil
		}
		if time.Now().After(deadline) {
			holder := "an unknown run"
			if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
				var h Holder
				if json.Unmarshal(kvs[0].Value, &h) == nil {
					holder = h.String()
				}
			}
			return fmt.Errorf("%w: %s holds the lock %s. Wait for it to finish, or pass -lock-timeout=DURATION to wait; if that run is gone for good, labform force-unlock ID frees it (it also frees itself %v after its holder died)",
				state.ErrLocked, holder, s.lockKey, s.cfg.LockTTL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ReadLock returns the holder of the lock, nil when it is free.
func ReadLock(cfg Config) (*Holder, error) {
	cli, err := Client(cfg)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, prefixOf(cfg)+"lock")
	if err != nil || len(resp.Kvs) == 0 {
		return nil, err
	}
	var h Holder
	if err := json.Unmarshal(resp.Kvs[0].Value, &h); err != nil {
		return nil, fmt.Errorf("the lock key %slock holds no labform lock: %w", prefixOf(cfg), err)
	}
	return &h, nil
}

// ForceUnlock frees the lock held under id (the lock ID a refusal names):
// it revokes the holder's lease, which removes the lock key.
func ForceUnlock(cfg Config, id string) (*Holder, error) {
	h, err := ReadLock(cfg)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("the state %s is not locked", prefixOf(cfg))
	}
	if h.ID != id {
		return nil, fmt.Errorf("the lock of %s has the ID %s (held by %s), not %s: nothing was unlocked", prefixOf(cfg), h.ID, h, id)
	}
	lease, err := strconv.ParseInt(id, 16, 64)
	if err != nil {
		return nil, fmt.Errorf("lock ID %q: %w", id, err)
	}
	cli, err := Client(cfg)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Revoke(ctx, clientv3.LeaseID(lease)); err != nil && !strings.Contains(err.Error(), "lease not found") {
		return nil, err
	}
	// A lock whose lease is gone is gone with it; this removes one left
	// without a lease, checked to be the same one.
	_, err = cli.Txn(ctx).If(clientv3.Compare(clientv3.LeaseValue(prefixOf(cfg)+"lock"), "=", lease)).
		Then(clientv3.OpDelete(prefixOf(cfg) + "lock")).Commit()
	return h, err
}

// load reads the whole state in one range read: journal/, lock, meta/,
// outputs/ and resources/ are adjacent under the prefix.
func (s *Store) load() error {
	ctx, cancel := s.ctx()
	defer cancel()
	resp, err := s.cli.Get(ctx, s.p+"journal/", clientv3.WithRange(clientv3.GetPrefixRangeEnd(s.p+"resources/")))
	if err != nil {
		return fmt.Errorf("reading the state from etcd (%s): %w", s.Path(), err)
	}
	s.cluster = resp.Header.ClusterId
	s.kv = make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		k := strings.TrimPrefix(string(kv.Key), s.p)
		if k == "lock" {
			continue
		}
		s.kv[k] = kv.Value
		if k == "meta/serial" {
			s.serialRev = kv.ModRevision
		}
	}
	return nil
}

// create writes a new state's meta keys, unless another run just did.
func (s *Store) create() error {
	lineage := newLineage()
	ctx, cancel := s.ctx()
	defer cancel()
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(s.p+"meta/lineage"), "=", 0), s.holds()).
		Then(clientv3.OpPut(s.p+"meta/lineage", lineage), clientv3.OpPut(s.p+"meta/serial", "0"),
			clientv3.OpPut(s.p+"meta/format_version", strconv.Itoa(state.FormatVersion))).Commit()
	if err != nil {
		return fmt.Errorf("creating the state in etcd (%s): %w", s.Path(), err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("creating the state in etcd (%s): the lock was lost", s.Path())
	}
	return s.load()
}

func (s *Store) holds() clientv3.Cmp {
	return clientv3.Compare(clientv3.LeaseValue(s.lockKey), "=", s.sess.Lease())
}

// Close stops the writer and frees the lock. A second Close does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if !s.readOnly {
			close(s.ops)
			<-s.done
			if s.lostReason() == nil {
				ctx, cancel := s.ctx()
				_, s.closeErr = s.cli.Txn(ctx).If(s.holds()).Then(clientv3.OpDelete(s.lockKey)).Commit()
				cancel()
			}
			s.sess.Close()
		}
		if err := s.cli.Close(); s.closeErr == nil && err != nil && !errors.Is(err, context.Canceled) {
			s.closeErr = err
		}
	})
	return s.closeErr
}

// Path names the state: its endpoints and prefix.
func (s *Store) Path() string {
	return "etcd " + strings.Join(s.cfg.Endpoints, ",") + " " + strings.TrimSuffix(s.p, "/")
}

// Describe identifies the state for saved plans: the cluster and the
// prefix, whichever endpoints reach it.
func (s *Store) Describe() string {
	return fmt.Sprintf("etcd cluster %x prefix %s", s.cluster, strings.TrimSuffix(s.p, "/"))
}

// Shared is true: every checkout of the lab uses this state.
func (s *Store) Shared() bool { return true }

func newLineage() string {
	b := make([]byte, 16)
	if _, err := randRead(b); err != nil {
		panic(err)
	}
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ---- reads (from the copy read at Open and kept by the writes) ----

func (s *Store) get(k string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kv[k]
}

// scan calls fn for every key under dir, in key order.
func (s *Store) scan(dir string, fn func(k string, v []byte) error) error {
	s.mu.Lock()
	type kv struct {
		k string
		v []byte
	}
	var list []kv
	for k, v := range s.kv {
		if strings.HasPrefix(k, dir) {
			list = append(list, kv{k[len(dir):], v})
		}
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].k < list[j].k })
	for _, e := range list {
		if err := fn(e.k, e.v); err != nil {
			return err
		}
	}
	return nil
}

// Meta returns the lineage, serial and the lab's identity.
func (s *Store) Meta() (state.Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _ := strconv.ParseUint(string(s.kv["meta/serial"]), 10, 64)
	return state.Meta{Lineage: string(s.kv["meta/lineage"]), Serial: n, LabID: string(s.kv["meta/lab_id"]),
		LabDir: string(s.kv["meta/lab_dir"]), LabName: string(s.kv["meta/lab_name"])}, nil
}

// NextIntent is the journal's counter.
func (s *Store) NextIntent() (uint64, error) {
	n, _ := strconv.ParseUint(string(s.get("meta/next_intent")), 10, 64)
	return n, nil
}

// Resources returns every record, keyed by address (copies).
func (s *Store) Resources() (map[string]*state.Record, error) {
	out := map[string]*state.Record{}
	err := s.scan("resources/", func(k string, v []byte) error {
		r, err := state.DecodeRecord(k, v)
		if err == nil {
			out[k] = r
		}
		return err
	})
	return out, err
}

// Get returns one record, or nil.
func (s *Store) Get(address string) (*state.Record, error) {
	v := s.get("resources/" + address)
	if v == nil {
		return nil, nil
	}
	return state.DecodeRecord(address, v)
}

// Journal returns the open intents, oldest first.
func (s *Store) Journal() ([]*state.Intent, error) {
	var out []*state.Intent
	err := s.scan("journal/", func(k string, v []byte) error {
		seq, err := strconv.ParseUint(k, 16, 64)
		if err != nil {
			return fmt.Errorf("state journal key %q is not a sequence number", k)
		}
		in, err := state.DecodeIntent(seq, v)
		if err != nil {
			return err
		}
		out = append(out, in)
		return nil
	})
	return out, err
}

// Outputs returns the stored outputs.
func (s *Store) Outputs() (map[string]*state.Output, error) {
	out := map[string]*state.Output{}
	err := s.scan("outputs/", func(k string, v []byte) error {
		o, err := state.DecodeOutput(k, v)
		if err != nil {
			return err
		}
		out[k] = o
		return nil
	})
	return out, err
}

func seqKey(seq uint64) string { return fmt.Sprintf("journal/%016x", seq) }

// ---- writes ----

// The writes are the state package's (state.Write), committed through
// mut, which spells the state's layout as keys under the prefix.

// SetLab records the lab's ID, last directory and name.
func (s *Store) SetLab(id, dir, name string) error {
	return s.run(state.SetLabWrite(id, dir, name), nil)
}

// Put writes records.
func (s *Store) Put(recs ...*state.Record) error { return s.run(state.PutWrite(recs)) }

// Delete removes records.
func (s *Store) Delete(addrs ...string) error { return s.run(state.DeleteWrite(addrs), nil) }

// Rename relabels records, and rewrites those that name them, in one
// transaction (see state.Renamed). The records are read from the copy
// this run keeps: with the lock held, nothing else writes them.
func (s *Store) Rename(pairs []state.Rename, rewrite func(*state.Record) (bool, error)) error {
	recs, err := s.Resources()
	if err != nil {
		return err
	}
	put, del, err := state.Renamed(recs, pairs, rewrite)
	if err != nil {
		return err
	}
	return s.run(state.RenameWrite(put, del))
}

// BeginMany records intents and returns their sequence numbers (also set
// in each Intent's Seq).
func (s *Store) BeginMany(ins []*state.Intent) ([]uint64, error) {
	wr, seqs, err := state.BeginWrite(ins)
	if err := s.run(wr, err); err != nil {
		return nil, err
	}
	state.SetSeqs(ins, seqs)
	return seqs, nil
}

// SettleAsync closes intent seq and writes rec, or deletes the record at
// del, in one transaction; the channel yields the result.
func (s *Store) SettleAsync(seq uint64, rec *state.Record, del string) <-chan error {
	wr, err := state.SettleWrite(seq, rec, del)
	return state.QueueWrite(s.ops, s.readOnly, wr, err)
}

// CloseIntents removes intents.
func (s *Store) CloseIntents(seqs ...uint64) error { return s.run(state.CloseIntentsWrite(seqs), nil) }

// SetOutputs replaces the outputs.
func (s *Store) SetOutputs(outs map[string]*state.Output) error {
	enc, err := state.EncodeOutputs(outs)
	if err != nil {
		return err
	}
	return s.run(state.OutputsWrite(enc), nil)
}

// Replace swaps the records and outputs (state push), keeping the lineage
// unless lineage is set.
func (s *Store) Replace(lineage string, recs []*state.Record, outs map[string]*state.Output) error {
	return s.run(state.ReplaceWrite(lineage, recs, outs))
}

// Import replaces everything with c, its lineage and serial included.
func (s *Store) Import(c *state.Content) error { return s.run(state.ImportWrite(c)) }

// Backup keeps a gzip'd copy of the state under PREFIX/backups/ and the
// newest keep copies; dir is not used.
func (s *Store) Backup(_ string, keep int) (string, error) {
	if s.readOnly {
		return "", state.ErrReadOnly
	}
	if err := s.lostReason(); err != nil {
		return "", err
	}
	s.mu.Lock()
	doc := map[string][]byte{}
	for k, v := range s.kv {
		doc[k] = v
	}
	serial := string(s.kv["meta/serial"])
	s.mu.Unlock()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(doc); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	n, _ := strconv.ParseUint(serial, 10, 64)
	key := fmt.Sprintf("%sbackups/%08d-%s", s.p, n, time.Now().UTC().Format("20060102T150405.000"))
	ctx, cancel := s.ctx()
	defer cancel()
	resp, err := s.cli.Txn(ctx).If(s.holds()).Then(clientv3.OpPut(key, buf.String())).Commit()
	if err != nil {
		return "", fmt.Errorf("writing the backup %s (%d bytes) to etcd: %w", key, buf.Len(), err)
	}
	if !resp.Succeeded {
		return "", fmt.Errorf("writing the backup %s: the state's lock was lost", key)
	}
	list, err := s.cli.Get(ctx, s.p+"backups/", clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return key, nil // the backup is written; the old ones go next time
	}
	for i := 0; i < len(list.Kvs)-keep; i++ {
		s.cli.Delete(ctx, string(list.Kvs[i].Key))
	}
	return key, nil
}

// Backups lists the backups kept under the prefix, newest first.
func (s *Store) Backups() ([]string, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	list, err := s.cli.Get(ctx, s.p+"backups/", clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, kv := range list.Kvs {
		out = append(out, string(kv.Key))
	}
	return out, nil
}
