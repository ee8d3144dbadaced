package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// Backend is the lab block's backend block: where the lab's state is
// kept when not in the lab directory's .labform/state.db.
//
//	lab {
//	  backend "etcd" {
//	    endpoints = ["https://10.0.0.5:2379"]
//	    prefix    = "labform/campus"
//	    lock_ttl  = "30s"
//	  }
//	}
type Backend struct {
	Type      string
	Endpoints []string
	Prefix    string
	LockTTL   time.Duration // 0: the backend's default
	// The TLS files, absolute (relative ones are taken from the lab
	// directory), and the user; the password comes from the environment.
	CAFile, CertFile, KeyFile string
	Username                  string
	DeclRange                 hcl.Range
}

// BackendTypes are the backends a lab block may name.
var BackendTypes = []string{"etcd"}

var backendAttrs = []string{"endpoints", "prefix", "lock_ttl", "ca_file", "cert_file", "key_file", "username"}

var labBlockSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "backend", LabelNames: []string{"type"}}}}

func decodeBackend(b *hcl.Block, dir string) (*Backend, hcl.Diagnostics) {
	be := &Backend{Type: b.Labels[0], DeclRange: b.DefRange}
	if be.Type != "etcd" {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown backend",
			Detail: fmt.Sprintf("labform keeps state in .labform/state.db (no backend block), or in etcd (backend \"etcd\"); %q is neither.", be.Type), Subject: b.LabelRanges[0].Ptr()}}
	}
	attrs, diags := b.Body.JustAttributes()
	str := func(a *hcl.Attribute, set *string) {
		diags = append(diags, decodeLiteral(a, cty.String, func(v cty.Value) { *set = v.AsString() })...)
	}
	path := func(a *hcl.Attribute, set *string) {
		str(a, set)
		if *set != "" && !filepath.IsAbs(*set) {
			*set = filepath.Join(dir, *set)
		}
	}
	for name, a := range attrs {
		switch name {
		case "endpoints":
			diags = append(diags, decodeLiteral(a, cty.List(cty.String), func(v cty.Value) {
				for _, e := range v.AsValueSlice() {
					be.Endpoints = append(be.Endpoints, e.AsString())
				}
			})...)
		case "prefix":
			str(a, &be.Prefix)
		case "lock_ttl":
			var s string
			str(a, &s)
			if s == "" {
				continue
			}
			d, err := time.ParseDuration(s)
			if err != nil || d < time.Second {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid lock_ttl",
					Detail: fmt.Sprintf("lock_ttl is a duration of at least one second, such as \"30s\" (how long a run that died keeps the lock); %q is not.", s), Subject: a.Expr.Range().Ptr()})
				continue
			}
			be.LockTTL = d
		case "ca_file":
			path(a, &be.CAFile)
		case "cert_file":
			path(a, &be.CertFile)
		case "key_file":
			path(a, &be.KeyFile)
		case "username":
			str(a, &be.Username)
		case "password":
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Password in a lab file",
				Detail: "The etcd password is never written in a lab file: set it in the environment variable LABFORM_ETCD_PASSWORD.", Subject: a.NameRange.Ptr()})
		default:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported argument",
				Detail: fmt.Sprintf("An argument named %q is not expected in an etcd backend block; it takes %s.%s", name, strings.Join(backendAttrs, ", "), didYouMean(name, backendAttrs)), Subject: a.NameRange.Ptr()})
		}
	}
	if len(be.Endpoints) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing endpoints",
			Detail: "An etcd backend needs endpoints = [\"https://HOST:2379\", ...].", Subject: b.DefRange.Ptr()})
	}
	if strings.Trim(be.Prefix, "/") == "" {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing prefix",
			Detail: "An etcd backend needs prefix = \"labform/NAME\": the keys of this lab's state live under it, apart from every other lab's.", Subject: b.DefRange.Ptr()})
	}
	if (be.CertFile == "") != (be.KeyFile == "") {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incomplete client certificate",
			Detail: "cert_file and key_file go together: a client certificate needs its key.", Subject: b.DefRange.Ptr()})
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return be, diags
}

// decodeLabBackends decodes the backend blocks of a lab block; at most one.
func decodeLabBackends(blocks hcl.Blocks, dir string, prev *Backend) (*Backend, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	for _, b := range blocks {
		if prev != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate backend",
				Detail: fmt.Sprintf("A lab has one backend; one was already declared at %s.", prev.DeclRange), Subject: b.DefRange.Ptr()})
			continue
		}
		be, d := decodeBackend(b, dir)
		diags = append(diags, d...)
		if be != nil {
			prev = be
		}
	}
	return prev, diags
}

// ReadBackend reads only the backend of the lab in dir (nil: the state
// file in .labform), for the commands that open the state without
// evaluating the lab. A file that does not parse is an error (it may hold
// the backend); other errors in the files are left to the commands that
// load the lab.
func ReadBackend(dir string) (*Backend, hcl.Diagnostics) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, hcl.Diagnostics{sourceless("Invalid lab directory", err.Error())}
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	files, err := LabFiles(abs)
	if err != nil {
		return nil, hcl.Diagnostics{sourceless("Cannot read the lab directory", err.Error())}
	}
	parser := hclparse.NewParser()
	var be *Backend
	var diags hcl.Diagnostics
	for _, name := range files {
		src, d := ReadLabFile(abs, name)
		if d != nil {
			continue
		}
		f, pd := parseShared(parser, src, name)
		if pd.HasErrors() {
			// The backend block may be in what could not be parsed:
			// guessing the state file would open the wrong state.
			diags = append(diags, pd...)
		}
		if f == nil || f.Body == nil {
			continue
		}
		content, _, _ := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "lab"}}})
		for _, lb := range content.Blocks {
			inner, _, pd := lb.Body.PartialContent(labBlockSchema)
			for _, d := range pd {
				// A malformed backend block (no label, say) must not
				// quietly open .labform/state.db instead.
				if d.Subject != nil && strings.Contains(d.Detail+d.Summary, "backend") {
					diags = append(diags, d)
				}
			}
			var d hcl.Diagnostics
			be, d = decodeLabBackends(inner.Blocks, abs, be)
			diags = append(diags, d...)
		}
	}
	return be, diags
}
