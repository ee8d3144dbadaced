package virtualbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// batchLab is a provider driving the simulator (through program, the
// simulator itself or a wrapper of it) with VMs registered by hand, and
// the read requests of those VMs. It needs no root: reading makes no
// ports.
type batchLab struct {
	t    testing.TB
	p    *Provider
	sim  string
	home string
	reqs []providers.ReadRequest
}

func newBatchLab(t testing.TB, vms int) *batchLab {
	b := &batchLab{t: t, sim: buildSim(t), home: t.TempDir()}
	t.Setenv("VBOXSIM_HOME", b.home)
	dir := t.TempDir()
	b.p = New()
	if err := b.p.Configure(context.Background(), providers.ConfigureRequest{
		Lab:    providers.Lab{Name: "lfvbatch", Dir: dir, WorkDir: filepath.Join(dir, ".labform", "virtualbox")},
		Config: cty.NullVal(cty.DynamicPseudoType)}); err != nil {
		t.Fatal(err)
	}
	b.p.vb.path = b.sim
	schema := b.p.Schemas()["vm"]
	schema.Finalize()
	for i := 0; i < vms; i++ {
		addr := fmt.Sprintf("vm.r%d", i)
		id := providers.ObjectID(b.p.lab.Key(), addr, 0)
		name := b.p.vmName(addr, id)
		b.vbox("createvm", "--name", name, "--ostype", "Linux_64", "--register")
		b.vbox("modifyvm", name, "--memory", fmt.Sprint(128*(i+1)), "--cpus", fmt.Sprint(i%2+1),
			"--nic1", "bridged", "--bridgeadapter1", b.p.hostPort(id, 0), "--cableconnected1", "on", "--macaddress1", fmt.Sprintf("0800270010%02X", i),
			"--nic2", "bridged", "--bridgeadapter2", b.p.hostPort(id, 1), "--cableconnected2", fmt.Sprint(map[bool]string{true: "on", false: "off"}[i%3 != 2]))
		switch i % 3 {
		case 1:
			b.vbox("startvm", name, "--type", "headless")
		case 2:
			b.vbox("startvm", name, "--type", "headless")
			b.vbox("controlvm", name, "pause")
		}
		m := map[string]cty.Value{}
		for n, a := range schema.Attributes {
			m[n] = cty.NullVal(a.Type)
		}
		for n, nb := range schema.Blocks {
			m[n] = cty.NullVal(nb.ImpliedType())
		}
		m["adapters"], m["adapter_start_index"] = cty.NumberIntVal(2), cty.NumberIntVal(0)
		m["memory"], m["cpus"], m["state"] = cty.NumberIntVal(128), cty.NumberIntVal(1), cty.StringVal("running")
		b.reqs = append(b.reqs, providers.ReadRequest{Type: "vm", Addr: addr, ID: id, Prior: cty.ObjectVal(m), Private: privateOf(name)})
	}
	b.calls()
	return b
}

func (b *batchLab) vbox(args ...string) string {
	b.t.Helper()
	out, err := exec.Command(b.sim, args...).CombinedOutput()
	if err != nil {
		b.t.Fatalf("VBoxManage %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// calls returns, and forgets, the VBoxManage calls since the last time,
// sorted (reads run in parallel).
func (b *batchLab) calls() []string {
	path := filepath.Join(b.home, "calls.log")
	data, _ := os.ReadFile(path)
	os.Remove(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	slices.Sort(lines)
	return lines
}

// want is each VM's value as Read finds it, one showvminfo each: what
// ReadMany must answer too. A VM gone is a null value.
func (b *batchLab) want() []cty.Value {
	b.t.Helper()
	var out []cty.Value
	for _, r := range b.reqs {
		resp, err := b.p.Read(context.Background(), r)
		if err != nil {
			b.t.Fatal(err)
		}
		out = append(out, resp.State)
	}
	b.calls()
	return out
}

// check runs ReadMany and compares its values with want and its calls
// with calls.
func (b *batchLab) check(want []cty.Value, calls ...string) {
	b.t.Helper()
	resps, errs := b.p.ReadMany(context.Background(), b.reqs)
	got := b.calls()
	slices.Sort(calls)
	if !slices.Equal(got, calls) {
		b.t.Errorf("VBoxManage calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(calls, "\n"))
	}
	for i := range b.reqs {
		if errs[i] != nil {
			b.t.Errorf("%s: %v", b.reqs[i].Addr, errs[i])
			continue
		}
		if !resps[i].State.RawEquals(want[i]) {
			b.t.Errorf("%s: ReadMany found\n%#v\nRead finds\n%#v", b.reqs[i].Addr, resps[i].State, want[i])
		}
	}
}

func (b *batchLab) showvminfo(i int) string {
	return "showvminfo " + b.p.nameOf(b.reqs[i].Private, b.reqs[i].Addr, b.reqs[i].ID) + " --machinereadable"
}

// TestReadManyOneCall: a refresh of N VMs makes one VBoxManage call, and
// finds what N showvminfo calls find (states running, paused, stopped; a
// cable disconnected; ports missing). A refresh of one VM makes one
// showvminfo.
func TestReadManyOneCall(t *testing.T) {
	b := newBatchLab(t, 6)
	want := b.want()
	for i, v := range want {
		if v.IsNull() {
			t.Fatalf("%s reads as gone", b.reqs[i].Addr)
		}
	}
	if st := want[2].GetAttr("state").AsString(); !strings.HasPrefix(st, "paused") || !strings.Contains(st, "nic2 cable disconnected") {
		t.Fatalf("vm.r2 should read paused with nic2's cable out: %q", st)
	}
	b.check(want, "list --long vms")

	all := b.reqs
	b.reqs = all[:1]
	b.check(want[:1], b.showvminfo(0))
	b.reqs = all
}

// wrap puts a VBoxManage in front of the simulator that answers `list
// --long vms` with the file listing (and exits with the code in
// listing.rc), logging the call as the simulator does.
func (b *batchLab) wrap(listing string, code int) {
	b.t.Helper()
	dir := b.t.TempDir()
	for name, data := range map[string]string{"listing": listing, "listing.rc": fmt.Sprint(code)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	script := fmt.Sprintf(`#!/bin/sh
if [ "$*" = "list --long vms" ]; then
	echo "list --long vms" >> "$VBOXSIM_HOME/calls.log"
	cat %[1]q/listing
	[ "$(cat %[1]q/listing.rc)" = 0 ] || echo "VBoxManage: error: Failed to list the machines" >&2
	exit "$(cat %[1]q/listing.rc)"
fi
exec %[2]q "$@"
`, dir, b.sim)
	path := filepath.Join(dir, "VBoxManage")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		b.t.Fatal(err)
	}
	b.p.vb.path = path
}

// TestReadManyFallbacks: each way the listing cannot tell reads the VMs
// concerned with showvminfo --machinereadable, and finds what Read finds;
// a VM the listing does not show is gone without another call.
func TestReadManyFallbacks(t *testing.T) {
	b := newBatchLab(t, 3)
	real := b.vbox("list", "--long", "vms")
	b.calls()
	name1 := b.p.nameOf(b.reqs[1].Private, b.reqs[1].Addr, b.reqs[1].ID)
	// block1 is the second VM's block in the real listing.
	block1 := real[strings.Index(real, "Name:                        "+name1):]
	block1 = block1[:strings.Index(block1, "\n\n")+2]
	inaccessible := "Name:            <inaccessible!>\nUUID:            1d2e3f40-5162-4738-a9b0-c1d2e3f40516\nConfig file:     /gone/x.vbox\nAccess error details:\n\n"
	want := b.want()
	for _, tc := range []struct {
		name    string
		listing string
		code    int
		reread  []int // the VMs read again with showvminfo
	}{
		{name: "the listing fails", code: 1, reread: []int{0, 1, 2}},
		{name: "a listing not recognized (translated)", listing: strings.ReplaceAll(real, "Name:    ", "Nom :    "), reread: []int{0, 1, 2}},
		{name: "a block without its memory", listing: strings.Replace(real, block1, strings.Replace(block1, "Memory size:", "Memory:     ", 1), 1), reread: []int{1}},
		{name: "a NIC of an unknown attachment", listing: strings.Replace(real, block1, strings.Replace(block1, "Attachment: Bridged Interface", "Attachment: Bridged Frobnicator", 1), 1), reread: []int{1}},
		{name: "a block cut short", listing: strings.Replace(real, block1, block1[:strings.Index(block1, "NIC 2:")], 1), reread: []int{1}},
		{name: "the name twice", listing: real + block1, reread: []int{1}},
		{name: "a VM not listed beside an inaccessible one", listing: strings.Replace(real, block1, inaccessible, 1), reread: []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.t = t
			b.wrap(tc.listing, tc.code)
			calls := []string{"list --long vms"}
			for _, i := range tc.reread {
				calls = append(calls, b.showvminfo(i))
			}
			b.check(want, calls...)
		})
	}

	t.Run("a VM gone", func(t *testing.T) {
		b.t = t
		b.p.vb.path = b.sim
		b.vbox("controlvm", name1, "poweroff")
		b.vbox("unregistervm", name1, "--delete")
		b.calls()
		gone := slices.Clone(want)
		gone[1] = cty.NullVal(want[1].Type())
		b.check(gone, "list --long vms")
	})
}

// BenchmarkRefresh compares a refresh of 20 VMs through the simulator:
// ReadMany's one list --long vms, and one showvminfo each, 10 at once (the
// engine's way before the provider batched). Each simulated call is a
// process, as each VBoxManage call is.
func BenchmarkRefresh(bm *testing.B) {
	b := newBatchLab(bm, 20)
	ctx := context.Background()
	bm.Run("list-long-vms", func(bm *testing.B) {
		for i := 0; i < bm.N; i++ {
			if _, errs := b.p.ReadMany(ctx, b.reqs); errs[0] != nil {
				bm.Fatal(errs[0])
			}
		}
	})
	bm.Run("showvminfo-each", func(bm *testing.B) {
		for i := 0; i < bm.N; i++ {
			sem := make(chan struct{}, 10)
			var wg sync.WaitGroup
			for _, r := range b.reqs {
				wg.Add(1)
				sem <- struct{}{}
				go func(r providers.ReadRequest) {
					defer wg.Done()
					defer func() { <-sem }()
					if _, err := b.p.Read(ctx, r); err != nil {
						bm.Error(err)
					}
				}(r)
			}
			wg.Wait()
		}
	})
}
