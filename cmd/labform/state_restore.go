package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labform/labform/state"
	"github.com/spf13/cobra"
)

// readOnlyLockFlag gives a command that only reads the state Terraform's
// -lock flag. Such a command never takes the lock, so -lock=false changes
// nothing; the flag is there so that scripts written for Terraform work.
func readOnlyLockFlag(cmd *cobra.Command) {
	cmd.Flags().Bool("lock", true, "accepted as in Terraform; this command reads a snapshot of the state and never takes its lock")
}

func (a *app) stateRestoreCommand() *cobra.Command {
	var force, list bool
	var lockTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "restore [BACKUP]",
		Short: "Replace a damaged state with a backup (the newest good one by default)",
		Long: `Replace the lab's state (.labform/state.db) with one of the backups that
apply takes before it changes anything (.labform/backups/). Without BACKUP the
newest backup that passes every check and has the state's lineage is used;
BACKUP is a file name in .labform/backups/ or a path. The backup is checked,
the state's lock is taken, the damaged file is kept beside the state as
state.db.damaged-TIME, and the restored state gets a serial past every one
known, so that a plan saved earlier cannot be applied to it.

A state that is not damaged, or a backup of another lineage, is replaced only
with -force. Objects created after the backup was taken are not in it: run
plan to see how the lab differs. -list shows the backups and what their
checks found.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := statePath(a.dir())
			if be, err := a.labBackend(a.dir()); err != nil {
				return err
			} else if be != nil {
				return fmt.Errorf("state restore puts back a backup of %s; this lab's state is in etcd (prefix %s), which keeps its own backups under %s/backups/ and needs no repair of a damaged file", path, be.Prefix, strings.TrimSuffix(be.Prefix, "/"))
			}
			if list {
				return a.listBackups(path)
			}
			var backup string
			if len(args) == 1 {
				backup = args[0]
				if !strings.ContainsRune(backup, filepath.Separator) {
					if _, err := os.Stat(filepath.Join(state.BackupDir(path), backup)); err == nil {
						backup = filepath.Join(state.BackupDir(path), backup)
					} else {
						backup = a.path(backup)
					}
				} else {
					backup = a.path(backup)
				}
			} else {
				lineage := state.InspectFile(path).Lineage
				b, err := state.NewestGoodBackup(path, lineage)
				if err != nil {
					return err
				}
				if b == nil {
					return fmt.Errorf("no backup in %s passes its checks%s (labform state restore -list shows them)",
						state.BackupDir(path), map[bool]string{true: " with the state's lineage " + lineage, false: ""}[lineage != ""])
				}
				backup = b.Path
			}
			res, err := state.Restore(path, backup, state.RestoreOptions{LockTimeout: lockTimeout, Force: force})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.io.out, "Restored %s from %s (lineage %s, serial %d, taken %s); the state's serial is now %d.\n",
				path, res.Backup.Path, res.Backup.Lineage, res.Backup.Serial, res.Backup.Time.UTC().Format(time.RFC3339), res.Serial)
			if res.Kept != "" {
				fmt.Fprintf(a.io.out, "The file it replaced is kept as %s.\n", res.Kept)
			}
			fmt.Fprintln(a.io.out, "Objects created after the backup was taken are not in it: run plan to see how the lab differs.")
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "restore over a state that is not damaged, or from a backup of another lineage")
	cmd.Flags().BoolVar(&list, "list", false, "list the backups, newest first, with what their checks found")
	cmd.Flags().DurationVar(&lockTimeout, "lock-timeout", 0, "how long to wait for another run's state lock")
	return cmd
}

// listBackups lists the backups of the state file at path with what
// their checks found, so that a user picks a good one before restoring.
func (a *app) listBackups(path string) error {
	all, err := state.Backups(path)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		fmt.Fprintf(a.io.out, "No backups in %s.\n", state.BackupDir(path))
		return nil
	}
	for _, b := range all {
		status := "good"
		if b.Err != nil {
			status = "unusable: " + b.Err.Error()
		}
		fmt.Fprintf(a.io.out, "%s  lineage %s  serial %d  %s  %s\n", filepath.Base(b.Path), b.Lineage, b.Serial,
			b.Time.UTC().Format(time.RFC3339), status)
	}
	return nil
}
