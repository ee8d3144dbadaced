package labreg

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Dir holds the records; tests point it elsewhere.
var Dir = "/run/labform/labs"

// Entry is what is known of the lab that holds a name.
type Entry struct {
	ID    string    `json:"id"`
	Dir   string    `json:"dir"`
	Since time.Time `json:"since"`
}

func path(name string) string { return filepath.Join(Dir, name+".json") }

// Get returns the lab that holds name, or nil.
func Get(name string) (*Entry, error) {
	b, err := os.ReadFile(path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, nil // torn by a crash: as if absent
	}
	return &e, nil
}

// Find returns the lab recorded with the given ID, under any name.
func Find(id string) (*Entry, error) {
	entries, err := os.ReadDir(Dir)
	if err != nil {
		return nil, nil
	}
	for _, de := range entries {
		name, ok := strings.CutSuffix(de.Name(), ".json")
		if !ok {
			continue
		}
		if e, _ := Get(name); e != nil && e.ID == id {
			return e, nil
		}
	}
	return nil, nil
}

// HeldError is Claim's answer when another lab holds the name.
type HeldError struct {
	Name string
	By   Entry
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("the lab name %q is held on this host by the lab at %s (since %s): two labs of one name would share its namespace. Give one of them another lab { name }, or destroy the other first",
		e.Name, e.By.Dir, e.By.Since.Format("2006-01-02 15:04"))
}

// Claim records that the lab id, at dir, holds name, unless another lab
// that still has its state holds it (a HeldError). The check and the
// write are one step under a lock, so two labs cannot both claim a name.
func Claim(name, id, dir string) error {
	if err := os.MkdirAll(Dir, 0o700); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(Dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	if e, _ := Get(name); e != nil {
		if e.ID == id && e.Dir == dir {
			return nil
		}
		if e.ID != id && e.Dir != dir && HasState(e.Dir) {
			return &HeldError{Name: name, By: *e}
		}
	}
	b, _ := json.Marshal(Entry{ID: id, Dir: dir, Since: time.Now().UTC()})
	tmp := path(name) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path(name))
}

// Release drops the record of name if the lab id holds it.
func Release(name, id string) {
	if e, _ := Get(name); e != nil && e.ID == id {
		os.Remove(path(name))
	}
}

// HasState reports whether dir holds a lab's state: a record whose lab
// still has one is alive, one whose directory is gone is stale. A lab
// whose state is shared (in etcd) keeps it elsewhere; its checkout holds
// the record of where (.labform/backend.json).
func HasState(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, ".labform", "state.db"))
	if err == nil && st.Size() > 0 {
		return true
	}
	_, err = os.Stat(filepath.Join(dir, ".labform", "backend.json"))
	return err == nil
}

// ForTests points Dir at a directory of the test process's own (shared
// with the subprocesses it starts, through the environment), for tests
// whose labs make no host objects (in-memory providers) and may share
// names. It returns the cleanup.
func ForTests() func() {
	const env = "LABFORM_TEST_LABREG"
	if d := os.Getenv(env); d != "" {
		Dir = d
		return func() {}
	}
	d, err := os.MkdirTemp("", "labform-labreg-")
	if err != nil {
		panic(err)
	}
	Dir = d
	os.Setenv(env, d)
	return func() { os.RemoveAll(d) }
}
