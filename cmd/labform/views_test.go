package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestViews_stateAndGraphJSON: the JSON forms that state list, state show
// and graph gained with their views say what the text forms say.
func TestViews_stateAndGraphJSON(t *testing.T) {
	tests := map[string]struct {
		args  []string
		check func(t *testing.T, text, js string)
	}{
		"state list": {
			args: []string{"state", "list"},
			check: func(t *testing.T, text, js string) {
				var doc stateListView
				if err := json.Unmarshal([]byte(js), &doc); err != nil {
					t.Fatalf("state list -json is not JSON: %v\n%s", err, js)
				}
				if want := strings.Fields(text); !slices.Equal(doc.Addresses, want) || doc.FormatVersion != "1.0" {
					t.Errorf("wrong state list -json\ngot:  %v (format %q)\nwant: %v", doc.Addresses, doc.FormatVersion, want)
				}
			},
		},
		"state list of no match": {
			args: []string{"state", "list", "vm.nothing"},
			check: func(t *testing.T, text, js string) {
				if text != "" || !strings.Contains(js, `"addresses": []`) {
					t.Errorf("wrong empty state list\ntext: %q\njson: %s", text, js)
				}
			},
		},
		"state show": {
			args: []string{"state", "show", "container.host[1]"},
			check: func(t *testing.T, text, js string) {
				var doc struct {
					Address string         `json:"address"`
					Type    string         `json:"type"`
					ID      string         `json:"id"`
					Values  map[string]any `json:"values"`
					Host    map[string]any `json:"host"`
				}
				if err := json.Unmarshal([]byte(js), &doc); err != nil {
					t.Fatalf("state show -json is not JSON: %v\n%s", err, js)
				}
				if doc.Address != "container.host[1]" || doc.Type != "container" || doc.Values["hostname"] != "host1" {
					t.Errorf("wrong state show -json: %+v", doc)
				}
				if !strings.Contains(text, `hostname`) || !strings.Contains(text, `"host1"`) {
					t.Errorf("state show lacks the hostname:\n%s", text)
				}
			},
		},
		"graph": {
			args: []string{"graph"},
			check: func(t *testing.T, text, js string) {
				var doc struct {
					FormatVersion string `json:"format_version"`
					Nodes         []struct {
						Address string `json:"address"`
					} `json:"nodes"`
				}
				if err := json.Unmarshal([]byte(js), &doc); err != nil {
					t.Fatalf("graph -format=json is not JSON: %v\n%s", err, js)
				}
				if doc.FormatVersion != "1.0" || len(doc.Nodes) != 3 {
					t.Fatalf("wrong graph -format=json: %s", js)
				}
				for _, n := range doc.Nodes {
					if !strings.Contains(text, `"`+n.Address+`"`) {
						t.Errorf("the JSON has node %s, the DOT does not:\n%s", n.Address, text)
					}
				}
			},
		},
	}
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	c.must(0, "apply", "-auto-approve")
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			text := c.must(0, tc.args...).out
			jsonFlag := "-json"
			if tc.args[0] == "graph" {
				jsonFlag = "-format=json"
			}
			js := c.must(0, append(slices.Clone(tc.args), jsonFlag)...).out
			tc.check(t, text, js)
		})
	}
}

// TestStateShow_parsesTheAddress: state show reads its address with
// config/addr, so another spelling of an instance finds it, and what is
// no address is said to be none.
func TestStateShow_parsesTheAddress(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	c.must(0, "apply", "-auto-approve")
	for _, spelling := range []string{"container.host[1]", "container.host[ 1 ]", " container.host[1]"} {
		contains(t, "state show "+spelling, c.must(0, "state", "show", spelling).out, "# container.host[1]:", `"host1"`)
	}
	r := c.must(1, "state", "show", "container.")
	contains(t, "state show of no address", r.errOut, "is not an instance address")
	r = c.must(1, "state", "show", "container.host[7]")
	contains(t, "state show of a missing instance", r.errOut, "no instance container.host[7] in state")
}
