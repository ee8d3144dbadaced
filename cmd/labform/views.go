package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/checks"
	"github.com/labform/labform/internal/labview"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/planner/render"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/state"
)

// A cmdView is what a command shows, in both its forms: text for a person
// and JSON for a program. Commands build a view from structs and hand it
// to show, which picks the form -json asks for; so the two forms come
// from the same data and cannot drift apart, and the JSON is the
// structs' own (no hand-built maps). The JSON structs list their fields
// in the order of their keys, which is the order the output had when it
// was built from maps.
//
// Each form is written rather than returned, because not every JSON form
// is one document: apply's progress is one compact JSON line per event,
// and the plan's JSON comes ready-made from planner/render.
type cmdView interface {
	// human writes the text form.
	human(w io.Writer) error
	// json writes the JSON form.
	json(w io.Writer) error
}

// show writes v to stdout in the form asJSON asks for.
func (a *app) show(v cmdView, asJSON bool) error {
	if asJSON {
		return v.json(a.io.out)
	}
	return v.human(a.io.out)
}

// writeDocument writes v as one indented JSON document, as every labform
// JSON document is written.
func writeDocument(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// Compile-time checks that every command's view is one.
var (
	_ cmdView = versionView{}
	_ cmdView = validateView{}
	_ cmdView = stateView{}
	_ cmdView = outputsView{}
	_ cmdView = outputView{}
	_ cmdView = planView{}
	_ cmdView = savedPlanView{}
	_ cmdView = eventView{}
	_ cmdView = applySummaryView{}
	_ cmdView = statusView{}
	_ cmdView = graphView{}
	_ cmdView = testView{}
	_ cmdView = stateListView{}
	_ cmdView = stateShowView{}
)

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

func (v versionView) json(w io.Writer) error { return writeDocument(w, v) }

// validateView is `labform validate` once the diagnostics are known. Its
// text form is only the verdict of a valid lab: the diagnostics go to
// stderr with their source snippets (printDiags) before it, and a lab
// with errors has ended there with exit 1.
type validateView struct{ doc validateJSON }

func (v validateView) human(w io.Writer) error {
	if !v.doc.Valid {
		return nil
	}
	_, err := fmt.Fprintln(w, "Success! The configuration is valid.")
	return err
}

func (v validateView) json(w io.Writer) error { return writeDocument(w, v.doc) }

// validateJSON is `labform validate -json` (the text form is the
// diagnostics as printDiags writes them).
type validateJSON struct {
	Diagnostics  []jsonDiag `json:"diagnostics"`
	ErrorCount   int        `json:"error_count"`
	FormatVer    string     `json:"format_version"`
	Valid        bool       `json:"valid"`
	WarningCount int        `json:"warning_count"`
}

// newValidateJSON counts the diagnostics; valid means no error, so a lab
// with warnings only is valid, as the text form says.
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

// outputsJSON is every output as show -json and output -json list it:
// sensitive ones included, marked, as Terraform does (a program asked
// for them).
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

// stateJSONValues is the "values" of show -json: outputs, and the
// resources of the root module (modules' instances are listed there too,
// by their full address).
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

// outputView is one output asked for by name (`labform output NAME`): its
// value shown even when sensitive, since it was asked for by name; the
// JSON form is the output's cty JSON value alone, for a script to read.
type outputView struct{ out *state.Output }

func (v outputView) human(w io.Writer) error {
	val, err := planner.DecodeOutput(v.out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, render.Value(val, false))
	return err
}

func (v outputView) json(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%s\n", v.out.Value)
	return err
}

// planView is a plan: what plan prints, what apply prints before it asks,
// and `show PLANFILE`. Both forms are planner/render's, which keeps the
// diff apart from the commands.
type planView struct {
	plan   *planner.Plan
	colors render.Colors
}

func (v planView) human(w io.Writer) error {
	_, err := io.WriteString(w, render.Plan(v.plan, v.colors))
	return err
}

func (v planView) json(w io.Writer) error {
	b, err := render.JSON(v.plan, Version)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// savedPlanView is what plan -out adds once the file is written. The JSON
// form adds nothing: plan -json is one document, which a program reads
// whole, and the file's name is the one it gave.
type savedPlanView struct{ path string }

func (v savedPlanView) human(w io.Writer) error {
	_, err := fmt.Fprintf(w, "\nSaved the plan to: %s\n\nTo perform exactly these actions, run:\n    labform apply %q\n", v.path, v.path)
	return err
}

func (v savedPlanView) json(io.Writer) error { return nil }

// eventView is one event of apply (and of its checks): a line of text
// for a person, a JSON line in the shape of Terraform's machine-readable
// UI for a program. The two say the same thing in the same words, except
// where text says what a person needs and a program does not: an event
// without text (the "No changes" that the plan above already said) has
// no text line, and msg, when set, is the JSON message where it differs
// from the text (the first "Waiting to be ready" has an elapsed time in
// JSON, which a person does not need).
type eventView struct {
	level string // JSON @level: info or error
	typ   string // JSON type: apply_start, change_summary...
	hook  any    // JSON hook, one of the *JSON structs below
	addr  string // the resource the event is about; bold in the text
	text  string // what follows "addr: " in the text, and in the JSON message
	msg   string // the JSON message, when it is not "addr: text"
	bold  func(string) string
}

func (v eventView) human(w io.Writer) error {
	if v.text == "" {
		return nil
	}
	_, err := fmt.Fprintf(w, "%s: %s\n", v.bold(v.addr), v.text)
	return err
}

func (v eventView) json(w io.Writer) error {
	msg := v.msg
	if msg == "" {
		msg = v.addr + ": " + v.text
	}
	b, err := json.Marshal(jsonEvent{Level: v.level, Message: msg, Timestamp: time.Now().UTC().Format(time.RFC3339Nano), Type: v.typ, Hook: v.hook})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// applySummaryView is the end of an apply or destroy that went well: the
// counts, then (text only) the outputs; in JSON, a change_summary event.
type applySummaryView struct {
	verb                      string // Apply or Destroy
	added, changed, destroyed int
	// outs are the outputs the text lists after the counts: none after a
	// destroy.
	outs map[string]*state.Output
	bold func(string) string
}

func (v applySummaryView) human(w io.Writer) error {
	fmt.Fprintf(w, "\n%s Resources: %d added, %d changed, %d destroyed.\n", v.bold(v.verb+" complete!"), v.added, v.changed, v.destroyed)
	return outputsView{outs: v.outs, header: "\nOutputs:\n\n"}.human(w)
}

func (v applySummaryView) json(w io.Writer) error {
	return eventView{level: "info", msg: fmt.Sprintf("%s complete! Resources: %d added, %d changed, %d destroyed.", v.verb, v.added, v.changed, v.destroyed),
		typ: "change_summary", hook: changeSummaryJSON{Add: v.added, Change: v.changed, Remove: v.destroyed, Operation: strings.ToLower(v.verb)}}.json(w)
}

// statusView is `labform status` (and inspect): the live lab's model,
// which internal/labview both lays out as tables and writes as JSON.
type statusView struct{ lab *labview.Lab }

func (v statusView) human(w io.Writer) error { return labview.WriteStatus(w, v.lab) }
func (v statusView) json(w io.Writer) error  { return labview.WriteStatusJSON(w, v.lab) }

// graphView is `labform graph`. Its text form is a picture in the format
// -format names; -format=json is the topology model the picture is drawn
// from, in the shape of status -json (the same model, built from the
// configuration instead of the live lab). The plan graph has a DOT form
// only, so deps is set alone.
type graphView struct {
	ctx    context.Context // the layout helper's, for svg and html
	format string
	model  *labview.Lab
	deps   *planner.Graph
}

func (v graphView) human(w io.Writer) error {
	if v.deps != nil {
		_, err := io.WriteString(w, v.deps.Dot())
		return err
	}
	switch v.format {
	case "dot":
		return labview.WriteDOT(w, v.model)
	case "mermaid":
		return labview.WriteMermaid(w, v.model)
	case "svg":
		return labview.WriteSVG(v.ctx, w, v.model, graphvizLayout)
	case "html":
		return labview.WriteHTML(v.ctx, w, v.model, graphvizLayout)
	}
	return fmt.Errorf("-format must be dot, mermaid, svg, html or json, not %q", v.format)
}

func (v graphView) json(w io.Writer) error { return labview.WriteStatusJSON(w, v.model) }

// testView is the result of the lab's checks (`labform test`, and the end
// of apply): a table, or one JSON document. A failed check's error goes
// to stderr from the command, after the table, as every error does.
type testView struct {
	results []checks.Result
	// none is set when the lab has no check blocks, which the text says
	// rather than print an empty table.
	none bool
	bold func(string) string
}

func (v testView) human(w io.Writer) error {
	if v.none {
		_, err := fmt.Fprintln(w, "The lab has no check blocks: nothing to test.")
		return err
	}
	checks.WriteTable(w, v.results, v.bold)
	return nil
}

func (v testView) json(w io.Writer) error { return checks.WriteJSON(w, v.results) }

// stateListView is `labform state list`: addresses in plan order. The
// JSON form wraps them in an object, so that a later field does not
// change its type.
type stateListView struct {
	FormatVersion string   `json:"format_version"`
	Addresses     []string `json:"addresses"`
}

// newStateListView lists addrs; an empty state lists [] rather than null,
// so that a program can range over it without a check.
func newStateListView(addrs []string) stateListView {
	if addrs == nil {
		addrs = []string{}
	}
	return stateListView{FormatVersion: "1.0", Addresses: addrs}
}

func (v stateListView) human(w io.Writer) error {
	for _, ad := range v.Addresses {
		if _, err := fmt.Fprintln(w, ad); err != nil {
			return err
		}
	}
	return nil
}

func (v stateListView) json(w io.Writer) error { return writeDocument(w, v) }

// stateShowView is `labform state show ADDRESS`: the instance's
// attributes, then where its objects live on the host (names its
// provider derives from the ID), when the provider can say.
type stateShowView struct {
	entry stateEntry
	// host is nil when the provider describes nothing.
	host *providers.Description
}

func (v stateShowView) human(w io.Writer) error {
	printInstance(w, v.entry)
	if v.host != nil {
		labview.WriteHostNames(w, v.entry.addr, *v.host)
	}
	return nil
}

// stateShowJSON is state show -json: the instance as show -json lists it,
// with its ID and its host names added.
type stateShowJSON struct {
	resourceJSON
	ID   string                 `json:"id,omitempty"`
	Host *providers.Description `json:"host,omitempty"`
}

func (v stateShowView) json(w io.Writer) error {
	return writeDocument(w, stateShowJSON{resourceJSON: v.entry.resourceJSON(), ID: v.entry.rec.ID, Host: v.host})
}
