package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/labform/labform/internal/systest"
)

// checksLab is three PCs on a LAN, PC2 and PC3 also on a link of their
// own, a firewall chain dropping telnet to PC3, and a check of each probe
// type. Every PC runs httpd and a "daemon" (sleep 3601).
const checksLab = `
lab {
  name = "%s"
}
container "pc" {
  for_each = { PC1 = 1, PC2 = 2, PC3 = 3 }
  rootfs   = "rootfs"
  command  = ["sh", "-c", "sleep 3601 & httpd -f -p 80 -h /"]
  ports    = 2
  addresses = {
    eth0 = ["10.77.1.${each.value}/24"]
    eth1 = ["10.77.2.${each.value}/24"]
  }
}
link "lan" {
  endpoints = [for k in ["PC1", "PC2", "PC3"] : container.pc[k].port[0]]
}
link "side" {
  endpoints = [container.pc["PC2"].port[1], container.pc["PC3"].port[1]]
}
firewall_chain "pc3_in" {
  target = container.pc["PC3"]
  hooks  = ["INPUT"]
  rule {
    protocol = "tcp"
    dport    = 23
    action   = "drop"
  }
}
output "pc2_netns" {
  value = container.pc["PC2"].netns
}
output "pc3_netns" {
  value = container.pc["PC3"].netns
}

check "pc2_reaches_pc3" {
  ping {
    from  = container.pc["PC2"]
    to    = "10.77.2.3"
    count = 2
  }
}
check "web_open" {
  tcp {
    from = container.pc["PC1"]
    to   = container.pc["PC3"]
    port = 80
  }
}
check "ssh_refused" {
  tcp {
    from   = container.pc["PC1"]
    to     = "10.77.1.3"
    port   = 22
    expect = "refused"
  }
}
check "telnet_dropped" {
  tcp {
    from    = container.pc["PC1"]
    to      = "10.77.1.3"
    port    = 23
    expect  = "dropped"
    timeout = "1s"
  }
}
check "daemon_running" {
  exec {
    on      = container.pc["PC3"]
    command = ["ps"]
    output  = "sleep 3601"
  }
}
check "lab_isolated" {
  ping {
    from   = lab
    to     = "10.77.1.3"
    count  = 1
    expect = "no-reply"
  }
}
check "three_pcs" {
  assert {
    condition     = length(container.pc) == 3
    error_message = "the lab has three PCs"
  }
}
`

var allChecks = []string{"daemon_running", "lab_isolated", "pc2_reaches_pc3", "ssh_refused", "telnet_dropped", "three_pcs", "web_open"}

// TestChecks_realLab applies the lab (its checks pass at the end of the
// apply), runs labform test, then breaks the lab three ways by hand — a
// link down, a firewall rule removed, a process killed — and each time
// labform test fails exactly the check that sees it, in its output and
// in the JUnit file.
func TestChecks_realLab(t *testing.T) {
	systest.Require(t, "runc", "busybox", "iptables-restore", "iptables", "ip")
	dir := t.TempDir()
	name := fmt.Sprintf("lfchk%d", os.Getpid()%100000)
	if err := os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(fmt.Sprintf(checksLab, name)), 0o644); err != nil {
		t.Fatal(err)
	}
	systest.BusyboxRootfs(t, filepath.Join(dir, "rootfs"), "sh", "sleep", "httpd", "ps")
	t.Cleanup(func() {
		if code, out := realRun(t, dir, "destroy", "-auto-approve"); code != 0 {
			t.Errorf("destroy exits %d\n%s", code, out)
		}
	})
	code, out := realRun(t, dir, "apply", "-auto-approve")
	if code != 0 {
		t.Fatalf("apply exits %d\n%s", code, out)
	}
	contains(t, "apply's output", out, "Running 7 check(s)", "Checks: 7 passed, 0 failed.", "web_open", "tcp container.pc[\"PC1\"] -> 10.77.1.3:80, expect open")
	t.Logf("apply:\n%s", out)

	junit := filepath.Join(dir, "report", "checks.xml")
	test := func() (int, string, []string) {
		t.Helper()
		code, out := realRun(t, dir, "test", "-junit-xml", junit)
		return code, out, junitFailures(t, junit, len(allChecks))
	}
	if code, out, failed := test(); code != 0 || len(failed) != 0 {
		t.Fatalf("test on the lab as applied exits %d, failed %v\n%s", code, failed, out)
	}
	// A report that cannot be written fails the command, the results shown.
	if code, out := realRun(t, dir, "test", "-junit-xml", "/proc/labform-report.xml"); code != 1 || !strings.Contains(out, "Checks: 7 passed, 0 failed.") || !strings.Contains(out, "writing the JUnit report: open /proc/labform-report.xml") {
		t.Errorf("test with an unwritable report exits %d; want 1 with the results and the error:\n%s", code, out)
	}
	netns := func(output string) string {
		t.Helper()
		code, out := realRun(t, dir, "output", "-raw", output)
		if code != 0 {
			t.Fatalf("output %s exits %d: %s", output, code, out)
		}
		return filepath.Base(strings.TrimSpace(out))
	}
	pc2, pc3 := netns("pc2_netns"), netns("pc3_netns")
	run := func(argv ...string) string {
		t.Helper()
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
		return string(out)
	}
	breaks := []struct {
		name   string
		breakt func()
		repair func()
		failed string
		says   string
	}{
		{"a link down", func() { run("ip", "-n", pc2, "link", "set", "eth1", "down") },
			func() { run("ip", "-n", pc2, "link", "set", "eth1", "up") }, "pc2_reaches_pc3", "no-reply: 0/2 replies"},
		{"a rule removed by hand", func() {
			save := run("ip", "netns", "exec", pc3, "iptables-save", "-t", "filter")
			removed := false
			for _, line := range strings.Split(save, "\n") {
				if strings.HasPrefix(line, "-A ") && strings.Contains(line, "--dport 23") && strings.Contains(line, "-j DROP") {
					run(append([]string{"ip", "netns", "exec", pc3, "iptables", "-t", "filter", "-D"}, strings.Fields(line)[1:]...)...)
					removed = true
				}
			}
			if !removed {
				t.Fatalf("no telnet drop rule in PC3's filter table:\n%s", save)
			}
		}, func() {
			if code, out := realRun(t, dir, "apply", "-auto-approve"); code != 0 || !strings.Contains(out, "Checks: 7 passed") {
				t.Fatalf("apply to repair the rule exits %d\n%s", code, out)
			}
		}, "telnet_dropped", "tcp container.pc[\"PC1\"] -> 10.77.1.3:23, expect dropped: refused"},
		{"a process killed", func() { killIn(t, pc3, "sleep\x003601\x00") }, nil, "daemon_running", `the output does not match "sleep 3601"`},
	}
	for _, b := range breaks {
		b.breakt()
		code, out, failed := test()
		if code != 1 || len(failed) != 1 || failed[0] != b.failed {
			t.Fatalf("after %s: test exits %d and fails %v, want exit 1 and %s only\n%s", b.name, code, failed, b.failed, out)
		}
		contains(t, "test's output after "+b.name, out, "Checks: 6 passed, 1 failed.", fmt.Sprintf("Error: check %q failed (main.lab.hcl:", b.failed), b.says)
		if x, _ := os.ReadFile(junit); !strings.Contains(string(x), xmlEscape(b.says)) {
			t.Errorf("the JUnit file lacks %q:\n%s", b.says, x)
		}
		t.Logf("after %s:\n%s", b.name, out)
		if b.repair != nil {
			b.repair()
		}
	}
	// -only runs the named checks; -json reports them as a document.
	code, out = realRun(t, dir, "test", "-json", "-only", "three_pcs", "-only", "web_open")
	var doc struct {
		Passed, Failed int
		Checks         []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 || doc.Passed != 2 || len(doc.Checks) != 2 {
		t.Errorf("test -json -only: exit %d, %+v (%v)\n%s", code, doc, err, out)
	}
	if code, out := realRun(t, dir, "test", "-only", "nosuch"); code != 1 || !strings.Contains(out, "its checks are pc2_reaches_pc3, web_open, ssh_refused") {
		t.Errorf("test -only nosuch: exit %d\n%s", code, out)
	}
	// A failed check fails apply after everything is saved, unless
	// -checks=warn.
	if code, out := realRun(t, dir, "apply", "-auto-approve"); code != 1 || !strings.Contains(out, "Apply complete!") || !strings.Contains(out, "Checks: 6 passed, 1 failed.") {
		t.Errorf("apply with a failing check exits %d, want 1\n%s", code, out)
	}
	if code, out := realRun(t, dir, "apply", "-auto-approve", "-checks=warn"); code != 0 || !strings.Contains(out, "Checks: 6 passed, 1 failed.") {
		t.Errorf("apply -checks=warn with a failing check exits %d, want 0\n%s", code, out)
	}
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// junitFailures reads a JUnit file and returns the names of its failed
// test cases, sorted, after checking that it has want cases.
func junitFailures(t *testing.T, path string, want int) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("the JUnit file does not parse: %v\n%s", err, b)
	}
	var failed, names []string
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			names = append(names, c.Name)
			if c.Failure != nil {
				failed = append(failed, c.Name)
			}
		}
	}
	sort.Strings(names)
	if doc.Tests != want || strings.Join(names, ",") != strings.Join(allChecks, ",") || doc.Failures != len(failed) {
		t.Errorf("the JUnit file has %d tests (%v), %d failures; want %d tests", doc.Tests, names, doc.Failures, want)
	}
	sort.Strings(failed)
	return failed
}

// killIn kills the processes whose command line is cmdline and that run
// in the named network namespace: only that container's, whatever else
// runs on the host.
func killIn(t *testing.T, nsName, cmdline string) {
	t.Helper()
	var want syscall.Stat_t
	if err := syscall.Stat("/var/run/netns/"+nsName, &want); err != nil {
		t.Fatal(err)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	killed := 0
	for _, p := range procs {
		if b, err := os.ReadFile(p + "/cmdline"); err != nil || string(b) != cmdline {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(p+"/ns/net", &st) != nil || st.Ino != want.Ino || st.Dev != want.Dev {
			continue
		}
		var pid int
		fmt.Sscan(filepath.Base(p), &pid)
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed++
		}
	}
	if killed != 1 {
		t.Fatalf("killed %d processes %q in %s, want 1", killed, cmdline, nsName)
	}
}
