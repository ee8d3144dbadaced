package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BackupInfo describes one backup file.
type BackupInfo struct {
	Path    string
	Lineage string
	Serial  uint64
	Time    time.Time // the file's modification time
	// Err says why the backup cannot be used; nil when it passes every
	// check that a state file must pass.
	Err error
}

// Backups lists the backups of the state at path (apply takes one before
// it changes anything, in BackupDir(path)), newest first, each checked.
func Backups(path string) ([]BackupInfo, error) {
	dir := BackupDir(path)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "state-") && strings.HasSuffix(e.Name(), ".db") {
			names = append(names, e.Name())
		}
	}
	// state-<serial, 8 digits>-<time>.db: newest last in name order.
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	var out []BackupInfo
	for _, n := range names {
		out = append(out, InspectFile(filepath.Join(dir, n)))
	}
	return out, nil
}

// InspectFile checks a state (or backup) file as Open would, without
// opening it for use or taking its lock.
func InspectFile(path string) BackupInfo {
	bi := BackupInfo{Path: path}
	st, err := os.Stat(path)
	if err != nil {
		bi.Err = err
		return bi
	}
	bi.Time = st.ModTime()
	b, err := os.ReadFile(path)
	if err != nil {
		bi.Err = err
		return bi
	}
	info, err := inspectBytes(b)
	bi.Lineage, bi.Serial, bi.Err = info.Lineage, info.Serial, err
	return bi
}

// NewestGoodBackup returns the newest backup of the state at path that
// passes every check and, when lineage is given, has that lineage; nil
// when there is none.
func NewestGoodBackup(path, lineage string) (*BackupInfo, error) {
	all, err := Backups(path)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Err == nil && (lineage == "" || all[i].Lineage == lineage) {
			return &all[i], nil
		}
	}
	return nil, nil
}

// RestoreOptions for Restore.
type RestoreOptions struct {
	LockTimeout time.Duration
	// Force restores over a state that is not damaged, or of another
	// lineage.
	Force bool
}

// RestoreResult says what Restore did.
type RestoreResult struct {
	Backup BackupInfo
	// Serial is the restored state's serial: past every serial known, so
	// that a plan saved against the damaged state cannot apply to it.
	Serial uint64
	// Kept is where the damaged file was copied, "" when there was none.
	Kept string
}

// Restore replaces the state at path with the backup at backup. The backup
// must pass every check. Restore takes the state's lock (the file lock
// bbolt takes, which works on a damaged file too), keeps a copy of the
// damaged file beside it, writes the backup's content into the state file
// in place (so that a run waiting for the lock then reads the restored
// state) and raises the serial. A state that is not damaged, or of
// another lineage, is replaced only with Force.
func Restore(path, backup string, opts RestoreOptions) (*RestoreResult, error) {
	bi := InspectFile(backup)
	if bi.Err != nil {
		return nil, fmt.Errorf("the backup %s cannot be used: %w", backup, bi.Err)
	}
	b, err := os.ReadFile(backup)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := lockFile(f, path, opts.LockTimeout); err != nil {
		return nil, err
	}
	cur, err := readAll(f)
	if err != nil {
		return nil, err
	}
	res := &RestoreResult{Backup: bi}
	curInfo, curErr := FileInfo{}, error(nil)
	if len(cur) > 0 {
		curInfo, curErr = inspectBytes(cur)
		if curErr == nil && !opts.Force {
			return nil, fmt.Errorf("the state %s is not damaged (lineage %s, serial %d): restoring %s would forget everything done since it was taken. Use -force to restore it anyway",
				path, curInfo.Lineage, curInfo.Serial, backup)
		}
		if curInfo.Lineage != "" && curInfo.Lineage != bi.Lineage && !opts.Force {
			return nil, fmt.Errorf("the backup %s has lineage %s, but the state %s has lineage %s: it is another lab's state. Use -force to restore it anyway",
				backup, bi.Lineage, path, curInfo.Lineage)
		}
		res.Kept = fmt.Sprintf("%s.damaged-%s", path, time.Now().UTC().Format("20060102T150405.000"))
		if curErr == nil {
			res.Kept = fmt.Sprintf("%s.replaced-%s", path, time.Now().UTC().Format("20060102T150405.000"))
		}
		if err := WriteFileSync(res.Kept, cur); err != nil {
			return nil, fmt.Errorf("keeping a copy of %s: %w", path, err)
		}
	}
	serial := max(bi.Serial, curInfo.Serial)
	if all, err := Backups(path); err == nil {
		for _, o := range all {
			if s, ok := parseBackupSerial(filepath.Base(o.Path)); ok {
				serial = max(serial, s)
			}
		}
	}
	res.Serial = serial + 1
	if err := f.Truncate(0); err != nil {
		return nil, err
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	// bbolt gets f itself, whose lock it then holds until Close.
	dup, err := dupFile(f)
	if err != nil {
		return nil, err
	}
	err = guard(func() error {
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType, NoFreelistSync: true,
			OpenFile: firstOpen(dup)})
		if err != nil {
			return err
		}
		err = db.Update(func(tx *bolt.Tx) error {
			if err := upgrade(tx); err != nil {
				return err
			}
			if err := tx.Bucket(bucketMeta).Put(keySerial, u64(res.Serial)); err != nil {
				return err
			}
			return putSum(tx)
		})
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("writing the restored state %s: %w (the backup %s is untouched; try again)", path, err, backup)
	}
	return res, nil
}
