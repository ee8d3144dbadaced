package etcd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/labform/labform/internal/etcdtest"
	"github.com/labform/labform/state"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestMain lets the test binary hold a state's lock in a process of its
// own (LABFORM_ETCD_HOLD=ENDPOINTS PREFIX), for the test that kills it.
func TestMain(m *testing.M) {
	if v := os.Getenv("LABFORM_ETCD_HOLD"); v != "" {
		f := strings.Fields(v)
		s, err := Open(Config{Endpoints: strings.Split(f[0], ","), Prefix: f[1], LockTTL: 2 * time.Second}, Options{Command: "holder"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("locked", s.holder.ID)
		select {}
	}
	os.Exit(m.Run())
}

func cfgFor(c *etcdtest.Cluster, t *testing.T) Config {
	return Config{Endpoints: c.Endpoints, Prefix: "labform/" + strings.ReplaceAll(t.Name(), "/", "-"), LockTTL: 2 * time.Second}
}

func mustOpen(t *testing.T, cfg Config, opts Options) *Store {
	t.Helper()
	s, err := Open(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func rec(addr string, n int) *state.Record {
	return &state.Record{Addr: addr, Type: "container", Provider: "container", ID: fmt.Sprintf("id%04d", n), Value: []byte(fmt.Sprintf("v%d", n))}
}

// TestModel runs the state model through etcd: intents, settles, records,
// outputs, push, and a read-only reopen that sees it all.
func TestModel(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cfg := cfgFor(c, t)
	s := mustOpen(t, cfg, Options{Command: "test", LocalDir: t.TempDir()})
	m0, _ := s.Meta()
	if m0.Lineage == "" || m0.Serial != 0 {
		t.Fatalf("new state: %+v", m0)
	}
	seqs, err := s.BeginMany([]*state.Intent{{Addr: "container.a", Action: "create"}, {Addr: "container.b", Action: "create"}, {Addr: "container.c", Action: "create"}})
	if err != nil || !reflect.DeepEqual(seqs, []uint64{1, 2, 3}) {
		t.Fatalf("BeginMany: %v %v", seqs, err)
	}
	var chs []<-chan error
	chs = append(chs, s.SettleAsync(1, rec("container.a", 1), ""), s.SettleAsync(2, rec("container.b", 2), ""))
	for _, ch := range chs {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetOutputs(map[string]*state.Output{"x": {Value: []byte(`"1"`), Type: []byte(`"string"`)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLab("labid", "/some/dir", "campus"); err != nil {
		t.Fatal(err)
	}
	want, err := state.Export(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Resources) != 2 || len(want.Journal) != 1 || want.Journal[0].Addr != "container.c" || want.NextIntent != 3 || want.Meta.LabID != "labid" {
		t.Fatalf("content: %+v", want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{true, false} {
		t.Run(fmt.Sprintf("reopen read-only=%v", ro), func(t *testing.T) {
			r := mustOpen(t, cfg, Options{ReadOnly: ro})
			got, err := state.Export(r)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize(got), normalize(want)) {
				t.Fatalf("reopened:\n%+v\nwant\n%+v", got, want)
			}
			r.Close()
		})
	}
}

// normalize drops what JSON does not keep exactly (times' monotonic part).
func normalize(c *state.Content) *state.Content {
	for _, in := range c.Journal {
		in.Started = in.Started.Round(0).UTC()
	}
	return c
}

// TestManyInOneWrite: a write of more operations than etcd takes in one
// transaction (a push of 500 records, 500 intents) is split and lands whole.
func TestManyInOneWrite(t *testing.T) {
	c := etcdtest.Start(t, 1)
	s := mustOpen(t, cfgFor(c, t), Options{})
	var recs []*state.Record
	var ins []*state.Intent
	for i := 0; i < 500; i++ {
		recs = append(recs, rec(fmt.Sprintf("container.n[%d]", i), i))
		ins = append(ins, &state.Intent{Addr: recs[i].Addr, Action: "update"})
	}
	outs := map[string]*state.Output{}
	for i := 0; i < 150; i++ {
		outs[fmt.Sprintf("o%d", i)] = &state.Output{Value: []byte("1"), Type: []byte(`"number"`)}
	}
	if err := s.Replace("", recs, outs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginMany(ins); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseIntents(1, 2, 3); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r := mustOpen(t, cfgFor(c, t), Options{ReadOnly: true})
	got, _ := state.Export(r)
	if len(got.Resources) != 500 || len(got.Outputs) != 150 || len(got.Journal) != 497 {
		t.Fatalf("%d records, %d outputs, %d intents", len(got.Resources), len(got.Outputs), len(got.Journal))
	}
}

// TestLock: a second run is refused with the holder's name, or waits
// for it with a timeout; force-unlock frees a lock by its ID.
func TestLock(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cfg := cfgFor(c, t)
	first := mustOpen(t, cfg, Options{Command: "labform apply"})
	_, err := Open(cfg, Options{Command: "labform plan"})
	if !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) ||
		!strings.Contains(err.Error(), "labform apply") || !strings.Contains(err.Error(), first.holder.ID) {
		t.Fatalf("second open: %v", err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		first.Close()
	}()
	second, err := Open(cfg, Options{Command: "labform plan", LockTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("waiting for the lock: %v", err)
	}
	h, err := ReadLock(cfg)
	if err != nil || h == nil || h.ID != second.holder.ID {
		t.Fatalf("holder: %+v %v", h, err)
	}
	if _, err := ForceUnlock(cfg, "123"); err == nil || !strings.Contains(err.Error(), second.holder.ID) {
		t.Fatalf("force-unlock with the wrong ID: %v", err)
	}
	if _, err := ForceUnlock(cfg, second.holder.ID); err != nil {
		t.Fatal(err)
	}
	third := mustOpen(t, cfg, Options{})
	// The run whose lock was broken can write no more.
	if err := second.Put(rec("container.x", 1)); err == nil {
		t.Fatal("a write after force-unlock landed")
	}
	if err := third.Put(rec("container.y", 2)); err != nil {
		t.Fatal(err)
	}
	second.Close()
}

// TestKilledHolder: a holder killed with SIGKILL keeps the lock until its
// lease runs out (lock_ttl), then frees it.
func TestKilledHolder(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cfg := cfgFor(c, t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LABFORM_ETCD_HOLD="+strings.Join(cfg.Endpoints, ",")+" "+cfg.Prefix)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 64)
	if n, err := out.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "locked") {
		t.Fatalf("holder: %q %v", buf[:n], err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if _, err := Open(cfg, Options{}); !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Fatalf("right after the kill: %v", err)
	}
	s, err := Open(cfg, Options{LockTimeout: 4 * cfg.LockTTL})
	if err != nil {
		t.Fatalf("after the lease's TTL: %v", err)
	}
	s.Close()
}

// TestLeaderKilled: writes go on while the cluster's leader is stopped;
// nothing is lost.
func TestLeaderKilled(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cfg := cfgFor(c, t)
	s := mustOpen(t, cfg, Options{LocalDir: t.TempDir()})
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		if i == 60 {
			c.Stop(c.WaitLeader())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq, err := s.BeginMany([]*state.Intent{{Addr: fmt.Sprintf("container.n[%d]", i), Action: "create"}})
			if err == nil {
				err = <-s.SettleAsync(seq[0], rec(fmt.Sprintf("container.n[%d]", i), i), "")
			}
			errs <- err
		}()
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want, _ := s.Meta()
	s.Close()
	r := mustOpen(t, cfg, Options{ReadOnly: true})
	got, _ := state.Export(r)
	if len(got.Resources) != 200 || len(got.Journal) != 0 || got.Meta.Serial != want.Serial {
		t.Fatalf("after the leader's loss: %d records, %d intents, serial %d (want 200, 0, %d)", len(got.Resources), len(got.Journal), got.Meta.Serial, want.Serial)
	}
}

// TestLostLease: once the lock's lease is gone, writes are refused with
// the file that keeps them, and the next run writes them first.
func TestLostLease(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cfg := cfgFor(c, t)
	local := t.TempDir()
	s := mustOpen(t, cfg, Options{LocalDir: local})
	seqs, err := s.BeginMany([]*state.Intent{{Addr: "container.a", Action: "create"}})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := Client(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Revoke(context.Background(), s.sess.Lease()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("the lease's loss was not noticed")
	}
	err = <-s.SettleAsync(seqs[0], rec("container.a", 1), "")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(local, UnsavedFile)) {
		t.Fatalf("settle after the lease's loss: %v", err)
	}
	if _, err := s.BeginMany([]*state.Intent{{Addr: "container.b", Action: "create"}}); err == nil {
		t.Fatal("a new intent was accepted after the lease's loss")
	}
	s.Close()
	// A read-only view shows what is not yet written; the next run writes it.
	ro := mustOpen(t, cfg, Options{ReadOnly: true, LocalDir: local})
	if r, _ := ro.Get("container.a"); r == nil {
		t.Fatal("the read-only view misses the unsaved record")
	}
	next := mustOpen(t, cfg, Options{LocalDir: local})
	if next.Replayed() == 0 {
		t.Fatal("nothing replayed")
	}
	if _, err := os.Stat(filepath.Join(local, UnsavedFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the unsaved file is still there: %v", err)
	}
	next.Close()
	r := mustOpen(t, cfg, Options{ReadOnly: true})
	j, _ := r.Journal()
	if got, _ := r.Get("container.a"); got == nil || got.ID != "id0001" || len(j) != 1 || j[0].Addr != "container.b" {
		t.Fatalf("after the replay: %+v, journal %+v", got, j)
	}
}

// TestAuth: a user whose role may use only the lab's prefix works with
// the state; a wrong password is refused with etcd's answer.
func TestAuth(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cfg := cfgFor(c, t)
	admin, err := Client(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	p := prefixOf(cfg)
	for _, step := range []func() error{
		func() error { _, err := admin.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := admin.RoleAdd(ctx, "lab"); return err },
		func() error {
			_, err := admin.RoleGrantPermission(ctx, "lab", p, clientv3.GetPrefixRangeEnd(p), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := admin.UserAdd(ctx, "engineer", "s3cret"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "engineer", "lab"); return err },
		func() error { _, err := admin.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Username, cfg.Password = "engineer", "s3cret"
	s := mustOpen(t, cfg, Options{})
	if err := s.Put(rec("container.a", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup("", 10); err != nil {
		t.Fatal(err)
	}
	s.Close()
	cfg.Password = "wrong"
	if _, err := Open(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("a wrong password: %v", err)
	}
}

// TestBackups: apply's backups are kept under the prefix, the newest
// keep of them.
func TestBackups(t *testing.T) {
	c := etcdtest.Start(t, 1)
	s := mustOpen(t, cfgFor(c, t), Options{})
	for i := 0; i < 4; i++ {
		if err := s.Put(rec(fmt.Sprintf("container.n[%d]", i), i)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Backup("", 2); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Backups()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !strings.Contains(list[0], "/backups/00000004-") || !strings.Contains(list[1], "/backups/00000003-") {
		t.Fatalf("backups: %v", list)
	}
}

// TestTLS: a cluster that asks for client certificates takes the lab's
// CA, certificate and key, and refuses a client without them.
func TestTLS(t *testing.T) {
	certs := etcdtest.MakeCerts(t, t.TempDir())
	c := etcdtest.StartTLS(t, certs)
	cfg := cfgFor(c, t)
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = certs.CA, certs.ClientCert, certs.ClientKey
	s := mustOpen(t, cfg, Options{})
	if err := s.Put(rec("container.a", 1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	cfg.CertFile, cfg.KeyFile = "", ""
	if _, err := Open(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "TLS files") {
		t.Fatalf("a client without a certificate: %v", err)
	}
}
