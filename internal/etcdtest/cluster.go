package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Cluster is a running test cluster.
type Cluster struct {
	t       testing.TB
	members []*member
	// Endpoints are the members' client URLs.
	Endpoints []string
}

type member struct {
	cfg     *embed.Config
	e       *embed.Etcd
	stopped bool
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts a cluster of n members and waits until it serves; the
// test's cleanup stops it.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	return start(t, n, nil)
}

// StartTLS starts a one-member cluster that serves its clients over TLS
// with the certificates certs and asks them for a client certificate.
func StartTLS(t testing.TB, certs Certs) *Cluster {
	t.Helper()
	return start(t, 1, &certs)
}

func start(t testing.TB, n int, certs *Certs) *Cluster {
	c := &Cluster{t: t}
	dir := t.TempDir()
	scheme := "http"
	if certs != nil {
		scheme = "https"
	}
	var initial []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("m%d", i)
		cfg := embed.NewConfig()
		cfg.Name = name
		cfg.Dir = filepath.Join(dir, name)
		cfg.TickMs, cfg.ElectionMs = 20, 200
		cfg.UnsafeNoFsync = true
		cfg.LogLevel = "error"
		cfg.LogOutputs = []string{filepath.Join(dir, name+".log")}
		peer, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", freePort(t)))
		client, _ := url.Parse(fmt.Sprintf("%s://127.0.0.1:%d", scheme, freePort(t)))
		if certs != nil {
			cfg.ClientTLSInfo.CertFile, cfg.ClientTLSInfo.KeyFile = certs.ServerCert, certs.ServerKey
			cfg.ClientTLSInfo.TrustedCAFile, cfg.ClientTLSInfo.ClientCertAuth = certs.CA, true
		}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
		cfg.InitialClusterToken = "labform-test"
		initial = append(initial, name+"="+peer.String())
		c.members = append(c.members, &member{cfg: cfg})
		c.Endpoints = append(c.Endpoints, client.String())
	}
	for _, m := range c.members {
		m.cfg.InitialCluster = strings.Join(initial, ",")
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, m := range c.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := embed.StartEtcd(m.cfg)
			if err != nil {
				errs[i] = err
				return
			}
			m.e = e
			select {
			case <-e.Server.ReadyNotify():
			case <-time.After(30 * time.Second):
				errs[i] = fmt.Errorf("member %s did not become ready in 30 s (log: %s)", m.cfg.Name, m.cfg.LogOutputs[0])
			}
		}()
	}
	wg.Wait()
	t.Cleanup(c.stopAll)
	for _, err := range errs {
		if err != nil {
			t.Fatalf("starting etcd: %v", err)
		}
	}
	return c
}

func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for _, m := range c.members {
		if !m.stopped && m.e != nil {
			m.stopped = true
			m.e.Server.HardStop() // no leadership to hand over at the end
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.e.Close()
			}()
		}
	}
	wg.Wait()
}

// Leader is the index of the member that leads now (-1: none known).
func (c *Cluster) Leader() int {
	for i, m := range c.members {
		if !m.stopped && m.e != nil && m.e.Server.Leader() == m.e.Server.MemberID() {
			return i
		}
	}
	return -1
}

// WaitLeader waits until some member leads and returns its index.
func (c *Cluster) WaitLeader() int {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if l := c.Leader(); l >= 0 {
			return l
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatal("the etcd cluster has no leader after 10 s")
	return -1
}

// Stop stops member i as a crash would: at once, without handing its
// leadership over; its clients' requests fail and they go to another
// member. (The graceful close of its servers, which waits for their
// streams, goes on in the background.)
func (c *Cluster) Stop(i int) {
	m := c.members[i]
	if m.stopped || m.e == nil {
		return
	}
	m.stopped = true
	m.e.Server.HardStop()
	go m.e.Close()
}
