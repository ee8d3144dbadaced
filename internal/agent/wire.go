package agent

import (
	"time"

	"errors"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
	ctymsgpack "github.com/zclconf/go-cty/cty/msgpack"
)

// Service is the name the agent's methods are registered under.
const Service = "Agent"

// Lab is what the agent learns about the lab, with the host it runs on.
type Lab struct {
	Name, Dir, ID string // the operator's
	Host          string
}

// ConfigureArgs configures one provider on the agent.
type ConfigureArgs struct {
	Provider string
	Lab      Lab
	Config   []byte
}

// ReadReq is one providers.ReadRequest.
type ReadReq struct {
	Type, Addr, ID string
	Prior, Private []byte
}

// ReadManyArgs reads many objects of one provider in one round trip.
type ReadManyArgs struct {
	Provider string
	IDs      map[string]string // address -> object ID, for IDOf
	Reqs     []ReadReq
}

// Result is one answer: a value or an error.
type Result struct {
	State, Private []byte
	Restart        string
	Err            string
	NothingDone    bool // the error wraps providers.ErrNothingDone
}

// ReadManyReply is index-aligned with ReadManyArgs.Reqs.
type ReadManyReply struct{ Results []Result }

// ApplyArgs is one create, update or delete.
type ApplyArgs struct {
	Provider string
	Op       string // create, update, delete
	IDs      map[string]string
	Type     string
	Addr, ID string
	Prior    []byte
	Planned  []byte
	Private  []byte
	Cost     providers.Cost
	WholeLab bool
}

// CheckArgs asks for a provider's host checks of one value (netem, KVM).
type CheckArgs struct {
	Provider, Type string
	Value          []byte
}

// AttrError is a providers.AttrError; the path is kept as attribute names.
type AttrError struct {
	Path            []string
	Summary, Detail string
}

// CheckReply holds the problems found.
type CheckReply struct{ Errors []AttrError }

// CapabilitiesArgs names the providers whose tools matter, and the lab's
// directory, whose files the host's providers read at the same path.
type CapabilitiesArgs struct {
	Providers []string
	LabDir    string
}

// Capabilities is what a host has: `labform init` reports it.
type Capabilities struct {
	Hostname string
	Pid      int // the agent's process
	KVM      bool
	// NoNetem says why the kernel cannot emulate delay or loss ("" when
	// it can); asked when the link provider is named, or none is.
	NoNetem string
	Missing []string
	// NoLabDir is set when the lab's directory is not on the host.
	NoLabDir bool
}

// PingReply says where the agent keeps its files: the host's lab
// directories, under which providers name paths (logs, console pipes).
type PingReply struct{ Dir string }

// Empty is an argument or reply with nothing in it.
type Empty struct{}

// Encode turns a value into bytes; cty.NilVal into none.
func Encode(v cty.Value) ([]byte, error) {
	if v == cty.NilVal {
		return nil, nil
	}
	v, _ = v.UnmarkDeep()
	return ctymsgpack.Marshal(v, cty.DynamicPseudoType)
}

// Decode is Encode's inverse.
func Decode(b []byte) (cty.Value, error) {
	if len(b) == 0 {
		return cty.NilVal, nil
	}
	return ctymsgpack.Unmarshal(b, cty.DynamicPseudoType)
}

// resultErr turns an error into a Result's fields.
func resultErr(r *Result, err error) {
	if err == nil {
		return
	}
	r.Err = err.Error()
	r.NothingDone = errors.Is(err, providers.ErrNothingDone)
}

// Error is a Result's error on the labform side, with ErrNothingDone kept.
func (r Result) Error() error {
	if r.Err == "" {
		return nil
	}
	if r.NothingDone {
		return &remoteErr{msg: r.Err, wrapped: providers.ErrNothingDone}
	}
	return errors.New(r.Err)
}

type remoteErr struct {
	msg     string
	wrapped error
}

func (e *remoteErr) Error() string { return e.msg }
func (e *remoteErr) Unwrap() error { return e.wrapped }

// attrPath turns a cty.Path of attribute steps into names.
func attrPath(p cty.Path) []string {
	var out []string
	for _, s := range p {
		if s, ok := s.(cty.GetAttrStep); ok {
			out = append(out, s.Name)
		}
	}
	return out
}

// ToAttrErrors turns the wire's problems back into providers' ones.
func ToAttrErrors(es []AttrError) []*providers.AttrError {
	var out []*providers.AttrError
	for _, e := range es {
		var p cty.Path
		for _, n := range e.Path {
			p = p.GetAttr(n)
		}
		out = append(out, &providers.AttrError{Path: p, Summary: e.Summary, Detail: e.Detail})
	}
	return out
}

// ProbeArgs is a probe from a network namespace of the host: a ping
// (Count echo requests to To) or a TCP connect (to To:Port).
type ProbeArgs struct {
	Kind    string // ping or tcp
	Netns   string // its path on the host
	To      string
	Port    int
	Count   int
	Timeout time.Duration
}

// ProbeReply is what the probe saw.
type ProbeReply struct {
	Sent, Received int
	Note           string
	Outcome        string // tcp: open, refused, dropped...
}
