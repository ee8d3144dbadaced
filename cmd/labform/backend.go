package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/labform/labform/config"
	"github.com/labform/labform/state"
	etcdstate "github.com/labform/labform/state/etcd"
	"github.com/spf13/cobra"
)

// backendRecordFile, in .labform, says which shared backend this checkout
// last used, so that a lab block that drops it is not taken for a new lab.
const backendRecordFile = "backend.json"

// backendRecord is what backend.json keeps of an etcd backend block:
// enough to name it in a message and to open it for init
// -migrate-state after the block is gone. The password is never kept:
// it comes from the environment at each run.
type backendRecord struct {
	Type      string   `json:"type"`
	Endpoints []string `json:"endpoints"`
	Prefix    string   `json:"prefix"`
	LockTTL   string   `json:"lock_ttl,omitempty"`
	CAFile    string   `json:"ca_file,omitempty"`
	CertFile  string   `json:"cert_file,omitempty"`
	KeyFile   string   `json:"key_file,omitempty"`
	Username  string   `json:"username,omitempty"`
}

func recordOf(be *config.Backend) backendRecord {
	r := backendRecord{Type: be.Type, Endpoints: be.Endpoints, Prefix: be.Prefix, CAFile: be.CAFile, CertFile: be.CertFile, KeyFile: be.KeyFile, Username: be.Username}
	if be.LockTTL > 0 {
		r.LockTTL = be.LockTTL.String()
	}
	return r
}

func (r backendRecord) backend() *config.Backend {
	be := &config.Backend{Type: r.Type, Endpoints: r.Endpoints, Prefix: r.Prefix, CAFile: r.CAFile, CertFile: r.CertFile, KeyFile: r.KeyFile, Username: r.Username}
	be.LockTTL, _ = time.ParseDuration(r.LockTTL)
	return be
}

// readBackendRecord reads backend.json; nil when there is none or it
// does not read. The record is advisory, so a bad one is treated as
// none rather than as an error.
func readBackendRecord(dir string) *backendRecord {
	b, err := os.ReadFile(filepath.Join(dir, ".labform", backendRecordFile))
	if err != nil {
		return nil
	}
	var r backendRecord
	if json.Unmarshal(b, &r) != nil || r.Type == "" {
		return nil
	}
	return &r
}

// writeBackendRecord keeps the backend this checkout uses. It writes only
// when the record changes, so that a run that changes nothing leaves the
// file alone.
func writeBackendRecord(dir string, be *config.Backend) {
	b, _ := json.MarshalIndent(recordOf(be), "", "  ")
	p := filepath.Join(dir, ".labform", backendRecordFile)
	if old, err := os.ReadFile(p); err == nil && string(old) == string(b)+"\n" {
		return
	}
	_ = os.MkdirAll(filepath.Dir(p), 0o700)
	_ = os.WriteFile(p, append(b, '\n'), 0o600) // advisory: only improves a later message
}

// etcdConfig is the etcd store's configuration from the lab's block,
// with the password from the environment (a lab file is shared; a
// password in it would be too).
func etcdConfig(be *config.Backend) etcdstate.Config {
	return etcdstate.Config{Endpoints: be.Endpoints, Prefix: be.Prefix, LockTTL: be.LockTTL, CAFile: be.CAFile,
		CertFile: be.CertFile, KeyFile: be.KeyFile, Username: be.Username, Password: os.Getenv(etcdstate.PasswordEnv)}
}

// labBackend reads the lab's backend block (nil: .labform/state.db).
func (a *app) labBackend(dir string) (*config.Backend, error) {
	if a.lab != nil && a.lab.Dir == config.LabDir(dir) {
		// Its backend block is the one ReadBackend would find: the lab
		// loaded without an error.
		return a.lab.Backend, nil
	}
	be, diags := config.ReadBackend(dir)
	if diags.HasErrors() {
		return nil, a.printDiags(diags, nil)
	}
	return be, nil
}

// localStateUsed tells whether the lab directory has a state file with
// something in it. A file of no bytes does not count: it holds nothing
// to migrate or to lose.
func localStateUsed(dir string) bool {
	st, err := os.Stat(statePath(dir))
	return err == nil && st.Size() > 0
}

// checkBackendMoved refuses a state that the lab's backend block no
// longer points at: a state file left when the lab moved to etcd, or an
// etcd state left when the block was removed. init -migrate-state moves it.
func checkBackendMoved(dir string, be *config.Backend) error {
	rec := readBackendRecord(dir)
	switch {
	case be != nil && localStateUsed(dir):
		return fmt.Errorf("this lab declares an etcd backend (%s, prefix %s), but its state is still in %s. Run labform init -migrate-state to move it to etcd; remove the file only if nothing it records runs any more",
			strings.Join(be.Endpoints, ","), be.Prefix, statePath(dir))
	case be == nil && rec != nil:
		return fmt.Errorf("this lab's state was in etcd (%s, prefix %s), and the lab no longer declares that backend. Run labform init -migrate-state to move the state into %s, or put the backend block back; remove %s only to start a new, empty local state",
			strings.Join(rec.Endpoints, ","), rec.Prefix, statePath(dir), filepath.Join(dir, ".labform", backendRecordFile))
	}
	return nil
}

// openBackend opens the lab's state where its backend block says.
func (a *app) openBackend(dir, command string, lockTimeout time.Duration, readOnly bool) (state.Backend, error) {
	be, err := a.labBackend(dir)
	if err != nil {
		return nil, err
	}
	if err := checkBackendMoved(dir, be); err != nil {
		return nil, err
	}
	return a.openAt(dir, be, command, lockTimeout, readOnly)
}

// openAt opens the state be names (nil: the lab directory's file). An
// etcd state replays what an earlier run could not write before it is
// used, and says so: those writes happened in the lab, and the user
// should know the state just caught up with them.
func (a *app) openAt(dir string, be *config.Backend, command string, lockTimeout time.Duration, readOnly bool) (state.Backend, error) {
	if be == nil {
		s, err := state.Open(statePath(dir), state.Options{LockTimeout: lockTimeout, Command: command, ReadOnly: readOnly})
		if err != nil {
			return nil, a.stateError(err)
		}
		return s, nil
	}
	s, err := etcdstate.Open(etcdConfig(be), etcdstate.Options{LockTimeout: lockTimeout, Command: command, ReadOnly: readOnly,
		LocalDir: filepath.Join(dir, ".labform")})
	if err != nil {
		return nil, err
	}
	if !readOnly {
		writeBackendRecord(dir, be)
	}
	if n := s.Replayed(); n > 0 {
		fmt.Fprintf(a.io.err, "Wrote %d change(s) to etcd that an earlier run could not write (kept in .labform/%s).\n", n, etcdstate.UnsavedFile)
	}
	return s, nil
}

// describeBackend names where a state is, for messages.
func describeBackend(be *config.Backend, dir string) string {
	if be == nil {
		return statePath(dir)
	}
	return fmt.Sprintf("etcd %s prefix %s", strings.Join(be.Endpoints, ","), be.Prefix)
}

// migrateState moves the state between the lab directory's file and etcd,
// whichever way the lab's backend block changed.
func (a *app) migrateState(dir string, lockTimeout time.Duration) error {
	be, err := a.labBackend(dir)
	if err != nil {
		return err
	}
	rec := readBackendRecord(dir)
	var from, to *config.Backend
	switch {
	case be != nil && localStateUsed(dir):
		from, to = nil, be
	case be == nil && rec != nil:
		from, to = rec.backend(), nil
	case be != nil && rec != nil && (rec.Prefix != be.Prefix || !slices.Equal(rec.Endpoints, be.Endpoints)):
		return fmt.Errorf("the lab's etcd backend changed (from %s to %s): labform moves state between .labform/state.db and etcd; to copy it between two etcd places, use state pull there and state push here", describeBackend(rec.backend(), dir), describeBackend(be, dir))
	default:
		fmt.Fprintf(a.io.out, "- The state is where the lab says (%s): nothing to migrate\n", describeBackend(be, dir))
		return nil
	}
	src, err := a.openAt(dir, from, "labform init -migrate-state", lockTimeout, false)
	if err != nil {
		return fmt.Errorf("opening the state to move (%s): %w", describeBackend(from, dir), err)
	}
	defer src.Close()
	dst, err := a.openAt(dir, to, "labform init -migrate-state", lockTimeout, false)
	if err != nil {
		return fmt.Errorf("opening the state to move to (%s): %w", describeBackend(to, dir), err)
	}
	defer dst.Close()
	content, err := state.Export(src)
	if err != nil {
		return err
	}
	target, err := state.Export(dst)
	if err != nil {
		return err
	}
	empty := target.Meta.Serial == 0 && len(target.Resources) == 0 && len(target.Journal) == 0
	if !empty && target.Meta.Lineage != content.Meta.Lineage {
		return fmt.Errorf("the target state (%s) holds another lineage (%s, serial %d, %d instance(s)) than this lab's (%s): it is another lab's state. Nothing was moved; point the lab at another prefix, or remove that state first if it is no longer used",
			describeBackend(to, dir), target.Meta.Lineage, target.Meta.Serial, len(target.Resources), content.Meta.Lineage)
	}
	if !empty && target.Meta.Serial > content.Meta.Serial {
		return fmt.Errorf("the target state (%s) is newer (serial %d) than the one to move (serial %d): moving would lose its changes. Nothing was moved",
			describeBackend(to, dir), target.Meta.Serial, content.Meta.Serial)
	}
	if err := dst.Import(content); err != nil {
		return fmt.Errorf("writing the state to %s: %w", describeBackend(to, dir), err)
	}
	if err := dst.Close(); err != nil {
		return err
	}
	src.Close()
	if from == nil {
		// The file is kept, renamed, so that nothing reads it as this
		// lab's state any more.
		kept := fmt.Sprintf("%s.migrated-%s", statePath(dir), time.Now().UTC().Format("20060102T150405"))
		if err := os.Rename(statePath(dir), kept); err != nil {
			return err
		}
		fmt.Fprintf(a.io.out, "- Moved the state (lineage %s, serial %d, %d instance(s)) to %s; the old file is kept as %s\n",
			content.Meta.Lineage, content.Meta.Serial, len(content.Resources), describeBackend(to, dir), kept)
	} else {
		if err := os.Remove(filepath.Join(dir, ".labform", backendRecordFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		fmt.Fprintf(a.io.out, "- Moved the state (lineage %s, serial %d, %d instance(s)) from %s to %s; the copy in etcd is left as it was\n",
			content.Meta.Lineage, content.Meta.Serial, len(content.Resources), describeBackend(from, dir), statePath(dir))
	}
	return nil
}

func (a *app) forceUnlockCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "force-unlock LOCK_ID",
		Short: "Free the state's lock that a run which is gone still holds",
		Long: `Free the lock of a shared (etcd) state by its ID, which the refusal of a
second run names. Only when the run that holds it is gone for good: a run
that still works would go on without the lock. (A lock whose holder died
also frees itself once its lease's lock_ttl has passed.) The lock of
.labform/state.db needs no forcing: it goes with the process that holds it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			be, err := a.labBackend(a.dir())
			if err != nil {
				return err
			}
			if be == nil {
				return fmt.Errorf("this lab's state is %s, locked by the process that has it open: the lock goes when that process exits, and nothing can hold it longer", statePath(a.dir()))
			}
			cfg := etcdConfig(be)
			h, err := etcdstate.ReadLock(cfg)
			if err != nil {
				return err
			}
			if h == nil {
				return fmt.Errorf("the state (%s) is not locked", describeBackend(be, a.dir()))
			}
			if !force {
				if !a.stdinTerminal() {
					return fmt.Errorf("no terminal to ask for confirmation: run with -force")
				}
				fmt.Fprintf(a.io.out, "The lock is held by %s.\nDo you really want to force-unlock? labform will free it; a run that still holds it would go on without it.\n  Only 'yes' will be accepted to confirm.\n\n  Enter a value: ", h)
				line, _ := bufio.NewReader(a.io.in).ReadString('\n')
				if strings.TrimSpace(line) != "yes" {
					fmt.Fprintln(a.io.out, "\nforce-unlock cancelled.")
					return exitError{1}
				}
			}
			h, err = etcdstate.ForceUnlock(cfg, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.io.out, "labform state has been successfully unlocked! (it was held by %s)\n", h)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "do not ask for confirmation")
	return cmd
}
