package providers

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Operating a running lab. The views of `labform status`, `state show` and
// `graph -type=topology` need to know where an object lives on the host,
// and `exec` and `console` need a way in. Those are optional abilities:
// a provider that lacks them still plans and applies.

// DescribeRequest names one object as state records it.
type DescribeRequest struct {
	// Lab is the lab as the provider would be configured with it: host
	// names derive from its ID and the object's (identity.go).
	Lab   Lab
	Type  string
	Addr  string
	ID    string
	Value cty.Value // the object's value (live, or as recorded)
	// Private is the provider's own data from the last write.
	Private []byte
}

// Description says where an object lives on the host: the names a user
// needs to reach it without labform. Empty fields do not apply.
type Description struct {
	// Host is the host the object is placed on ("" for this machine):
	// the names below are that host's.
	Host string `json:"host,omitempty"`
	// Image is what the node runs from: a container's image or rootfs, a
	// VM's image or base disk.
	Image string `json:"image,omitempty"`
	// Netns is the path of the node's network namespace.
	Netns string `json:"netns,omitempty"`
	// RuntimeID and RuntimeRoot are a container's name and --root for
	// the OCI runtime: `runc --root ROOT exec ID sh`.
	RuntimeID   string `json:"runtime_id,omitempty"`
	RuntimeRoot string `json:"runtime_root,omitempty"`
	// RunDir is a VM's run directory (QMP socket, pidfile).
	RunDir string `json:"run_dir,omitempty"`
	// LabNetns is the lab's namespace, where bridges and the lab side of
	// every port live.
	LabNetns string `json:"lab_netns,omitempty"`
	// Bridge is a link's bridge in the lab namespace.
	Bridge string `json:"bridge,omitempty"`
	// HostInterfaces are the interfaces the object owns outside itself
	// (a node's lab-side ports, a link's bridge and joined ports).
	HostInterfaces []string `json:"host_interfaces,omitempty"`
	// Log is the node's log file.
	Log string `json:"log,omitempty"`
	// Ports are a node's ports, in order.
	Ports []PortNames `json:"ports,omitempty"`
	// Console is how to reach the node's console, when it has one.
	Console *Console `json:"console,omitempty"`
}

// PortNames are one port's interface names: inside the node and on the
// host side (in the lab namespace).
type PortNames struct {
	Index  int    `json:"index"`
	Inside string `json:"inside"`
	Host   string `json:"host"`
}

// Console is a node's console endpoint.
type Console struct {
	// Kind is telnet, vnc, spice (a TCP port on 127.0.0.1), pipe (a unix
	// socket, VirtualBox's uart) or shell (a container: exec's shell).
	Kind string `json:"kind"`
	// Address is host:port for a TCP console, the path of a pipe.
	Address string `json:"address,omitempty"`
	// Command reaches it without labform.
	Command string `json:"command,omitempty"`
}

// Describer is implemented by providers that can say where their objects
// live. Describe only computes names: it runs no tool and needs no
// Configure, so that views of a lab work even where its tools are absent.
type Describer interface {
	Describe(req DescribeRequest) Description
}

// ExecRequest runs a command in a node, with the caller's stdio.
type ExecRequest struct {
	DescribeRequest
	// Argv is the command; empty means the node's shell.
	Argv           []string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// TTY gives the command a terminal (the caller's stdin is one).
	TTY bool
}

// Execer is implemented by providers whose nodes run commands on demand
// (runc exec, a guest agent). Exec returns the command's exit code; an
// error means it could not be run at all, and says why and what to use
// instead.
type Execer interface {
	Exec(ctx context.Context, req ExecRequest) (int, error)
}

// ConsoleRequest opens a node's console with a terminal of Rows x Cols.
type ConsoleRequest struct {
	DescribeRequest
	Rows, Cols uint16
}

// ConsoleOpener is implemented by providers whose consoles need more than
// a connection to the endpoint Describe gives (a container's console is a
// shell started on a pseudo-terminal). Consoles at a TCP port or a unix
// socket need no opener: the caller connects to Console.Address.
type ConsoleOpener interface {
	OpenConsole(ctx context.Context, req ConsoleRequest) (io.ReadWriteCloser, error)
}

// CarrierRequest plugs or pulls the cable at one of a node's ports.
type CarrierRequest struct {
	DescribeRequest
	Port int
	Up   bool
}

// CarrierSetter is implemented by providers whose nodes do not lose
// carrier when the lab-side end of a port goes down (QEMU: set_link). A
// node that does not run is left alone: it starts with its links applied
// again.
type CarrierSetter interface {
	SetCarrier(ctx context.Context, req CarrierRequest) error
}

// NetnsProber runs the probes of checks and ready gates (a ping, a TCP
// connect) from a node's network namespace, given by its path. Nodes on
// this machine are probed in-process; the proxy of a provider on another
// host implements it to probe there, where the namespace is.
type NetnsProber interface {
	// PingFrom sends count echo requests to ip and counts the replies;
	// note says why requests were lost before leaving, if they were.
	PingFrom(ctx context.Context, nsPath string, ip net.IP, count int, timeout time.Duration) (sent, received int, note string, err error)
	// DialFrom connects to host:port and says what happened: open,
	// refused, dropped, or another failure's text.
	DialFrom(ctx context.Context, nsPath, host string, port int, timeout time.Duration) (string, error)
}
