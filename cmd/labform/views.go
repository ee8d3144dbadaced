package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/state"
)

// A cmdView is what a command shows when it is done, in both its forms: text
// for a person and JSON for a program. Commands build a view from structs
// and hand it to show, which picks the form -json asks for; so the two
// forms come from the same data and cannot drift apart, and the JSON is
// the structs' own (no hand-built maps). The JSON structs list their
// fields in the order of their keys, which is the order the output had
// when it was built from maps.
type cmdView interface {
	// human writes the text form.
	human(w io.Writer) error
	// jsonValue is what the JSON form marshals.
	jsonValue() any
}

// show writes v as JSON (indented, as every labform JSON document is)
// when asJSON is set, else as text.
func (a *app) show(v cmdView, asJSON bool) error {
	if !asJSON {
		return v.human(a.io.out)
	}
	b, err := json.MarshalIndent(v.jsonValue(), "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.io.out, "%s\n", b)
	return err
}

// versionView is `labform version`.
type versionView struct {
	LabformVersion string   `json:"labform_version"`
	Platform       string   `json:"platform"`
	Providers      []string `json:"providers"`
}

func newVersionView(providers []string) versionView {
	return versionView{LabformVersion: Version, Platform: runtime.GOOS + "_" + runtime.GOARCH, Providers: providers}
}

func (v versionView) human(w io.Writer) error {
	_, err := fmt.Fprintf(w, "labform v%s\non %s\nproviders: %s\n", v.LabformVersion, v.Platform, strings.Join(v.Providers, ", "))
	return err
}

func (v versionView) jsonValue() any { return v }

// validateJSON is `labform validate -json` (the text form is the
// diagnostics as printDiags writes them).
type validateJSON struct {
	Diagnostics  []jsonDiag `json:"diagnostics"`
	ErrorCount   int        `json:"error_count"`
	FormatVer    string     `json:"format_version"`
	Valid        bool       `json:"valid"`
	WarningCount int        `json:"warning_count"`
}

func newValidateJSON(diags hcl.Diagnostics) validateJSON {
	v := validateJSON{Diagnostics: diagsJSON(diags), FormatVer: "1.0"}
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			v.ErrorCount++
		} else {
			v.WarningCount++
		}
	}
	v.Valid = v.ErrorCount == 0
	return v
}

// outputJSON is one output in JSON: its cty JSON value and type.
type outputJSON struct {
	Sensitive bool            `json:"sensitive"`
	Type      json.RawMessage `json:"type"`
	Value     json.RawMessage `json:"value"`
}

func outputsJSON(outs map[string]*state.Output) map[string]outputJSON {
	m := make(map[string]outputJSON, len(outs))
	for n, o := range outs {
		m[n] = outputJSON{Sensitive: o.Sensitive, Type: o.Type, Value: o.Value}
	}
	return m
}

// stateJSON is `labform show -json` of the state, in the shape of
// Terraform's JSON state.
type stateJSON struct {
	FormatVersion string          `json:"format_version"`
	Values        stateJSONValues `json:"values"`
}

type stateJSONValues struct {
	Outputs    map[string]outputJSON `json:"outputs"`
	RootModule struct {
		Resources []resourceJSON `json:"resources"`
	} `json:"root_module"`
}

// resourceJSON is one instance of the state in JSON.
type resourceJSON struct {
	Address      string          `json:"address"`
	DependsOn    []string        `json:"depends_on"`
	Mode         string          `json:"mode"`
	ProviderName string          `json:"provider_name"`
	Tainted      bool            `json:"tainted,omitempty"` // as Terraform writes it
	Type         string          `json:"type"`
	Values       json.RawMessage `json:"values"`
}

// The JSON lines of plan, apply and test -json, one event each, in the
// shape of Terraform's machine-readable UI.

// jsonEvent is one line.
type jsonEvent struct {
	Level     string `json:"@level"`
	Message   string `json:"@message"`
	Timestamp string `json:"@timestamp"`
	Hook      any    `json:"hook,omitempty"`
	Type      string `json:"type"`
}

// changeSummaryJSON is a change_summary event's hook.
type changeSummaryJSON struct {
	Add       int    `json:"add"`
	Change    int    `json:"change"`
	Operation string `json:"operation"`
	Remove    int    `json:"remove"`
}

// applyStartJSON is an apply_start event's hook.
type applyStartJSON struct {
	Action   planner.Action `json:"action"`
	Resource string         `json:"resource"`
}

// applyTimedJSON is the hook of apply_progress, apply_complete and
// apply_errored events.
type applyTimedJSON struct {
	Action         planner.Action `json:"action"`
	ElapsedSeconds float64        `json:"elapsed_seconds"`
	Resource       string         `json:"resource"`
}

// readyProgressJSON is a ready_progress event's hook.
type readyProgressJSON struct {
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	Pending        string  `json:"pending"`
	Resource       string  `json:"resource"`
}
