package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// keySum holds a SHA-256 of everything else in the file (every bucket's
// keys and values, in order), rewritten at every commit. bbolt checks its
// own pages but not the values in them: without this, a damaged byte in a
// record would be read back as a different, valid-looking record.
var keySum = []byte("content_sum")

var metaKeys = map[string]bool{string(keyLineage): true, string(keySerial): true, string(keyFormat): true,
	string(keyNextSeq): true, string(keySum): true, string(keyLabID): true, string(keyLabDir): true, string(keyLabName): true}

// ErrCorrupt is wrapped by every error about a damaged state file.
var ErrCorrupt = errors.New("the state file is damaged")

// CorruptError says what is wrong with a state file and which backup can
// replace it.
type CorruptError struct {
	Path   string
	Reason error
	// Backup is the newest backup that opens, passes every check and has
	// the state's lineage (when the damaged file still shows it); nil
	// when there is none.
	Backup *BackupInfo
	// BackupDir is where backups were looked for.
	BackupDir string
	// Lineage is the lineage the damaged file shows, "" when unreadable.
	// When no backup has it, Backup is the newest good one of any
	// lineage: the damage may be in the lineage itself.
	Lineage string
}

// LineageDiffers says that Backup's lineage is not the one the damaged
// file shows (restoring it needs -force).
func (e *CorruptError) LineageDiffers() bool {
	return e.Backup != nil && e.Lineage != "" && e.Backup.Lineage != e.Lineage
}

func (e *CorruptError) Error() string {
	msg := fmt.Sprintf("the state file %s is damaged: %v. It was not used: labform never treats a damaged state as an empty one", e.Path, e.Reason)
	if e.Backup != nil {
		msg += fmt.Sprintf(". The newest good backup is %s (lineage %s, serial %d, taken %s)",
			e.Backup.Path, e.Backup.Lineage, e.Backup.Serial, e.Backup.Time.UTC().Format(time.RFC3339))
		if e.LineageDiffers() {
			msg += fmt.Sprintf("; no backup has the lineage the damaged file shows (%s), which may itself be damaged", e.Lineage)
		}
		return msg
	}
	return msg + fmt.Sprintf(". No good backup was found in %s", e.BackupDir)
}

func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Reason} }

// BackupDir is where backups of the state at path are kept.
func BackupDir(path string) string { return filepath.Join(filepath.Dir(path), "backups") }

// corrupt builds the error for a damaged state file at path, naming the
// newest good backup of the given lineage ("" when unknown).
func corrupt(path, lineage string, reason error) error {
	e := &CorruptError{Path: path, Reason: reason, BackupDir: BackupDir(path), Lineage: lineage}
	e.Backup, _ = NewestGoodBackup(path, lineage)
	if e.Backup == nil && lineage != "" {
		e.Backup, _ = NewestGoodBackup(path, "")
	}
	return e
}

// Open opens the state file at path. Without ReadOnly it takes the
// state's lock (the file lock bbolt itself uses) and creates the file if
// there is none. Either way the file's structure and content are checked
// before it is used: a damaged file, an empty (0-byte) one included, is a
// *CorruptError naming the newest good backup, never a new empty state.
func Open(path string, opts Options) (st *Store, err error) {
	if opts.ReadOnly {
		return openReadOnly(path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil { // holds lab values: owner only
		return nil, err
	}
	f, err := openOrCreate(path)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f, path, opts.LockTimeout); err != nil {
		f.Close()
		return nil, err
	}
	// From here on f holds the lock; bbolt is handed f itself (a second
	// descriptor would be a second, conflicting flock).
	b, err := readAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading state %s: %w", path, err)
	}
	info, ierr := inspectBytes(b)
	if ierr != nil {
		f.Close()
		return nil, corrupt(path, info.Lineage, ierr)
	}
	var db *bolt.DB
	err = guard(func() error {
		var err error
		// NoFreelistSync: the freelist is rebuilt when the file is
		// opened instead of being written at every commit, which makes
		// the many small commits of an apply cheaper.
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType, NoFreelistSync: true,
			OpenFile: firstOpen(f)})
		return err
	})
	if err != nil {
		f.Close()
		return nil, corrupt(path, info.Lineage, err)
	}
	s := &Store{db: db, path: path, lockInfo: path + ".lock-info", lineage: info.Lineage, ops: make(chan *Op[*wtx], 1024), done: make(chan struct{})}
	if err := s.guardDamage(func() error { return s.db.Update(upgrade) }); err != nil {
		db.Close()
		return nil, err
	}
	host, _ := os.Hostname()
	li, _ := json.Marshal(LockHolder{PID: os.Getpid(), Command: opts.Command, Host: host, Since: time.Now().UTC()})
	_ = os.WriteFile(s.lockInfo, li, 0o600) // advisory: only improves the message
	go s.writer()
	return s, nil
}

// openReadOnly reads a consistent snapshot of the file without taking the
// lock and without writing anything beside it, so it works on a read-only
// file or directory and while an apply runs. A missing file reads as an
// empty state with no lineage.
func openReadOnly(path string) (*Store, error) {
	b, err := Snapshot(path)
	if errors.Is(err, os.ErrNotExist) {
		return openAbsent(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading state %s: %w", path, err)
	}
	info, ierr := inspectBytes(b)
	if ierr != nil {
		return nil, corrupt(path, info.Lineage, ierr)
	}
	db, err := openBytes(b, false)
	if err != nil {
		return nil, corrupt(path, info.Lineage, err)
	}
	s := &Store{db: db, path: path, readOnly: true, lineage: info.Lineage, ops: make(chan *Op[*wtx]), done: make(chan struct{})}
	close(s.done)
	return s, nil
}

// openAbsent is the read-only view of a state file that does not exist:
// empty, with no lineage.
func openAbsent(path string) (*Store, error) {
	db, err := openBytes(nil, true)
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := upgrade(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Delete(keyLineage)
	}); err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db, path: path, readOnly: true, ops: make(chan *Op[*wtx]), done: make(chan struct{})}
	close(s.done)
	return s, nil
}

// openOrCreate opens the state file for writing. A new one is made whole
// (every bucket, a lineage) beside it and linked into place, so that a
// state file that exists is never legitimately empty.
func openOrCreate(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EROFS) {
			return nil, fmt.Errorf("the state %s cannot be written (%w). The commands that only read it work: show, output, state list|show|pull, and plan -lock=false", path, err)
		}
		return f, err
	}
	b, err := emptyState()
	if err != nil {
		return nil, err
	}
	t, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".new-*")
	if err != nil {
		return nil, err
	}
	tmp := t.Name()
	t.Close()
	defer os.Remove(tmp)
	if err := WriteFileSync(tmp, b); err != nil {
		return nil, err
	}
	// A link never replaces a file another run made meanwhile.
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
		// A file system without hard links: rename, unless one appeared.
		if _, serr := os.Lstat(path); !errors.Is(serr, os.ErrNotExist) {
			return nil, err
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, err
		}
	}
	return os.OpenFile(path, os.O_RDWR, 0)
}

// emptyState returns the bytes of a new state: every bucket, a new lineage,
// serial 0.
func emptyState() ([]byte, error) {
	mf, err := memFile(nil)
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	dup, err := dupFile(mf)
	if err != nil {
		return nil, err
	}
	db, err := bolt.Open("memfd", 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
		OpenFile: firstOpen(dup)})
	if err != nil {
		return nil, err
	}
	err = db.Update(upgrade)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return readAll(mf)
}

// upgrade makes the buckets, the lineage and the checksum that a state
// file has; on an existing file it adds what an older labform left out.
func upgrade(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketMeta, bucketResources, bucketJournal, bucketOutputs} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(keyFormat); v != nil {
		if got := binary.BigEndian.Uint64(v); got > FormatVersion {
			return fmt.Errorf("the state has format %d; this labform reads up to %d: upgrade labform", got, FormatVersion)
		}
	} else if err := meta.Put(keyFormat, u64(FormatVersion)); err != nil {
		return err
	}
	if meta.Get(keyLineage) == nil {
		if err := meta.Put(keyLineage, []byte(newLineage())); err != nil {
			return err
		}
		if err := meta.Put(keySerial, u64(0)); err != nil {
			return err
		}
	}
	if meta.Get(keySum) != nil {
		return nil
	}
	return putSum(tx)
}

// lockFile takes the exclusive flock bbolt takes, waiting up to timeout
// (at least a short grace).
func lockFile(f *os.File, path string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 50 * time.Millisecond
	}
	deadline := time.Now().Add(timeout)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			return fmt.Errorf("locking state %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	holder := "an unknown process"
	if b, rerr := os.ReadFile(path + ".lock-info"); rerr == nil {
		var h LockHolder
		if json.Unmarshal(b, &h) == nil {
			holder = fmt.Sprintf("pid %d on %s (%s), since %s", h.PID, h.Host, h.Command, h.Since.Format(time.RFC3339))
		}
	}
	return fmt.Errorf("%w: %s holds %s. Wait for it to finish, or pass -lock-timeout=DURATION to wait", ErrLocked, holder, path)
}

func readAll(f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size())
	n, err := f.ReadAt(b, 0)
	if err == io.EOF {
		err = nil
	}
	return b[:n], err
}

// snapshotRetries counts the snapshots read again (tests).
var snapshotRetries atomic.Int64

// snapshotBudget is how long Snapshot tries for a consistent copy.
const snapshotBudget = 10 * time.Second

// Snapshot reads the state file at path without the lock. bbolt never
// overwrites a page the newest meta page refers to before a later meta
// page is written, so a copy whose meta pages did not change while it was
// read is consistent; otherwise it is read again.
func Snapshot(path string) ([]byte, error) {
	deadline := time.Now().Add(snapshotBudget)
	for {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		b, err := readAll(f)
		if err != nil {
			f.Close()
			return nil, err
		}
		m, merr := parseMeta(b, 0)
		if merr != nil || m.pageSize < 1024 || m.pageSize > maxSanePageSize || len(b) < 2*int(m.pageSize) {
			f.Close()
			return b, nil // damaged, or being created: the checks say which
		}
		again := make([]byte, 2*m.pageSize)
		_, err = f.ReadAt(again, 0)
		f.Close()
		if err == nil && bytes.Equal(again, b[:len(again)]) {
			return b, nil
		}
		snapshotRetries.Add(1)
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the state kept changing while being read for %v (a run is writing it); try again", snapshotBudget)
		}
		// Commits come in bursts: a random pause lands in a gap.
		time.Sleep(time.Duration(1+mrand.IntN(10)) * time.Millisecond)
	}
}

// FileInfo is what inspecting a state file found.
type FileInfo struct {
	Lineage string
	Serial  uint64
}

// inspectBytes checks a whole state file held in b: bbolt's structure
// first, by the walker of check.go, then its content through bbolt: the
// four buckets, the lineage and serial, every record, intent and output
// decoding, and the content checksum. Lineage is set whenever the meta
// bucket could be read, even when something else is wrong.
func inspectBytes(b []byte) (info FileInfo, err error) {
	if _, err := checkFile(b); err != nil {
		return info, err
	}
	db, err := openBytes(b, false)
	if err != nil {
		return info, err
	}
	defer db.Close()
	err = guard(func() error {
		return db.View(func(tx *bolt.Tx) error { return inspectTx(tx, &info) })
	})
	return info, err
}

func inspectTx(tx *bolt.Tx, info *FileInfo) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return fmt.Errorf("it has no meta bucket")
	}
	lin := meta.Get(keyLineage)
	if len(lin) == 0 {
		return fmt.Errorf("it has no lineage")
	}
	info.Lineage = string(lin)
	if v := meta.Get(keySerial); len(v) != 8 {
		return fmt.Errorf("its serial is %d bytes long", len(v))
	} else {
		info.Serial = binary.BigEndian.Uint64(v)
	}
	if v := meta.Get(keyFormat); len(v) != 8 {
		return fmt.Errorf("its format version is %d bytes long", len(v))
	} else if got := binary.BigEndian.Uint64(v); got == 0 || got > FormatVersion {
		return fmt.Errorf("it has format %d; this labform reads 1 to %d", got, FormatVersion)
	}
	if v := meta.Get(keyNextSeq); v != nil && len(v) != 8 {
		return fmt.Errorf("its intent counter is %d bytes long", len(v))
	}
	if err := meta.ForEach(func(k, _ []byte) error {
		if !metaKeys[string(k)] {
			return fmt.Errorf("its meta bucket has an unknown key %q", k)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, name := range [][]byte{bucketResources, bucketJournal, bucketOutputs} {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("it has no %s bucket", name)
		}
	}
	if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		switch string(name) {
		case string(bucketMeta), string(bucketResources), string(bucketJournal), string(bucketOutputs):
			return nil
		}
		return fmt.Errorf("it has an unknown bucket %q", name)
	}); err != nil {
		return err
	}
	if want := meta.Get(keySum); want != nil {
		if !bytes.Equal(want, contentSum(tx)) {
			return fmt.Errorf("its content does not match its checksum")
		}
	} else if err := decodeAll(tx); err != nil {
		return err
	}
	// bbolt's own check (page reachability, the freelist), now that the
	// walker has made sure it will not crash on the way.
	var first error
	for err := range tx.Check() {
		if first == nil {
			first = err
		}
	}
	return first
}

// decodeAll decodes every record, intent and output: the check of a file
// written before the checksum (a matching checksum says the values are
// what labform wrote).
func decodeAll(tx *bolt.Tx) error {
	if err := tx.Bucket(bucketResources).ForEach(func(k, v []byte) error { _, err := DecodeRecord(string(k), v); return err }); err != nil {
		return err
	}
	if err := tx.Bucket(bucketJournal).ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("a journal key is %d bytes long", len(k))
		}
		return json.Unmarshal(v, &Intent{})
	}); err != nil {
		return fmt.Errorf("a journal entry is corrupt: %w", err)
	}
	if err := tx.Bucket(bucketOutputs).ForEach(func(k, v []byte) error { return json.Unmarshal(v, &Output{}) }); err != nil {
		return fmt.Errorf("an output is corrupt: %w", err)
	}
	return nil
}

// The content sum is the XOR of a SHA-256 of every entry (bucket, key,
// value) but the sum itself: a write updates it with what it changes,
// without reading the rest.
type sum [sha256.Size]byte

func (s *sum) xor(bucket, k, v []byte) {
	h := sha256.New()
	var n [8]byte
	for _, b := range [][]byte{bucket, k, v} {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	var d sum
	h.Sum(d[:0])
	for i := range s {
		s[i] ^= d[i]
	}
}

// contentSum computes the sum over the whole file.
func contentSum(tx *bolt.Tx) []byte {
	var s sum
	for _, name := range [][]byte{bucketMeta, bucketResources, bucketJournal, bucketOutputs} {
		b := tx.Bucket(name)
		if b == nil {
			continue
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if string(name) == string(bucketMeta) && bytes.Equal(k, keySum) {
				continue
			}
			s.xor(name, k, v)
		}
	}
	return s[:]
}

func putSum(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySum, contentSum(tx)) }

// wtx is a write transaction that keeps the content sum: every change to
// a bucket goes through put, del or clear.
type wtx struct {
	*bolt.Tx
	sum sum
}

func beginSum(tx *bolt.Tx) *wtx {
	w := &wtx{Tx: tx}
	if v := tx.Bucket(bucketMeta).Get(keySum); len(v) == len(w.sum) {
		copy(w.sum[:], v)
	} else {
		copy(w.sum[:], contentSum(tx))
	}
	return w
}

func (w *wtx) put(bucket, k, v []byte) error {
	b := w.Bucket(bucket)
	if old := b.Get(k); old != nil {
		w.sum.xor(bucket, k, old)
	}
	if err := b.Put(k, v); err != nil {
		return err
	}
	w.sum.xor(bucket, k, v)
	return nil
}

func (w *wtx) del(bucket, k []byte) error {
	b := w.Bucket(bucket)
	if old := b.Get(k); old != nil {
		w.sum.xor(bucket, k, old)
	}
	return b.Delete(k)
}

// clear empties a bucket.
func (w *wtx) clear(bucket []byte) error {
	if err := w.Bucket(bucket).ForEach(func(k, v []byte) error { w.sum.xor(bucket, k, v); return nil }); err != nil {
		return err
	}
	if err := w.DeleteBucket(bucket); err != nil {
		return err
	}
	_, err := w.CreateBucket(bucket)
	return err
}

// wtx writes the state's layout (Writes) into bbolt's buckets: a
// sequence number is its 8 bytes big-endian, so that bbolt's key order is
// the journal's.
var _ Writes = (*wtx)(nil)

func (w *wtx) PutRecord(address string, enc []byte) error {
	return w.put(bucketResources, []byte(address), enc)
}
func (w *wtx) DeleteRecord(address string) error      { return w.del(bucketResources, []byte(address)) }
func (w *wtx) PutIntent(seq uint64, enc []byte) error { return w.put(bucketJournal, u64(seq), enc) }
func (w *wtx) DeleteIntent(seq uint64) error          { return w.del(bucketJournal, u64(seq)) }
func (w *wtx) PutOutput(name string, enc []byte) error {
	return w.put(bucketOutputs, []byte(name), enc)
}
func (w *wtx) Clear(p Part) error                  { return w.clear([]byte(p)) }
func (w *wtx) SetMeta(f MetaField, v string) error { return w.put(bucketMeta, []byte(f), []byte(v)) }
func (w *wtx) SetNextIntent(n uint64) error        { return w.put(bucketMeta, keyNextSeq, u64(n)) }
func (w *wtx) SetSerialBase(n uint64) error        { return w.put(bucketMeta, keySerial, u64(n)) }

func (w *wtx) NextIntent() uint64 {
	if v := w.Bucket(bucketMeta).Get(keyNextSeq); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (w *wtx) commitSum() error { return w.Bucket(bucketMeta).Put(keySum, w.sum[:]) }

// openBytes opens a bbolt database on a private in-memory copy of b.
func openBytes(b []byte, writable bool) (*bolt.DB, error) {
	f, err := memFile(b)
	if err != nil {
		return nil, err
	}
	var db *bolt.DB
	err = guard(func() error {
		var err error
		db, err = bolt.Open("memfd", 0o600, &bolt.Options{ReadOnly: !writable, NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
			OpenFile: firstOpen(f)})
		return err
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	return db, nil
}

// firstOpen is a bbolt OpenFile that hands bbolt f for the database
// itself, and opens any other file (tx.CopyFile's target) for real.
func firstOpen(f *os.File) func(string, int, os.FileMode) (*os.File, error) {
	var used sync.Once
	return func(name string, flag int, perm os.FileMode) (*os.File, error) {
		first := false
		used.Do(func() { first = true })
		if first {
			return f, nil
		}
		return os.OpenFile(name, flag, perm)
	}
}

func memFile(b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("labform-state", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:labform-state")
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func dupFile(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// PanicError is a panic (or memory fault) inside bbolt, caught.
type PanicError struct{ Value interface{} }

func (e PanicError) Error() string { return fmt.Sprintf("bbolt panicked: %v", e.Value) }

// guard runs fn, turning a panic, and a memory fault on the mapped file,
// into an error. bbolt panics on pages it cannot make sense of.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = PanicError{r}
		}
	}()
	return fn()
}

// guardDamage is guard for an open store: a panic marks the store broken
// (no more writes) and becomes a *CorruptError naming the newest backup.
func (s *Store) guardDamage(fn func() error) error {
	err := guard(fn)
	var pe PanicError
	if errors.As(err, &pe) {
		s.mu.Lock()
		if s.broken == nil {
			s.broken = corrupt(s.path, s.lineage, pe)
		}
		err = s.broken
		s.mu.Unlock()
	}
	return err
}

func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	return s.guardDamage(func() error { return s.db.View(fn) })
}

// parseBackupSerial returns the serial in a backup's file name.
func parseBackupSerial(name string) (uint64, bool) {
	var serial string
	if _, err := fmt.Sscanf(name, "state-%8s-", &serial); err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(serial, 10, 64)
	return n, err == nil
}
