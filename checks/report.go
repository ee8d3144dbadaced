package checks

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// Failed counts the failed checks.
func Failed(rs []Result) int {
	n := 0
	for _, r := range rs {
		if !r.Passed {
			n++
		}
	}
	return n
}

// WriteTable prints the results as a table, one line per probe, with the
// check's name on its first line.
func WriteTable(w io.Writer, rs []Result, bold func(string) string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rs {
		status := "PASS"
		if !r.Passed {
			status = "FAIL"
		}
		for i, p := range r.Probes {
			name, st := r.Name, status
			if i > 0 {
				name, st = "", ""
			}
			mark := "ok"
			if !p.Passed {
				mark = "FAILED"
			}
			tries := ""
			if p.Attempts > 1 {
				tries = fmt.Sprintf(", %d attempts", p.Attempts)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s: %s (%s%s)\n", st, name, p.What, mark, oneLine(p.Observed), p.Duration.Round(time.Millisecond), tries)
		}
	}
	tw.Flush()
	fail := Failed(rs)
	line := fmt.Sprintf("Checks: %d passed, %d failed.", len(rs)-fail, fail)
	if bold != nil {
		line = bold(line)
	}
	fmt.Fprintf(w, "\n%s\n", line)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " | ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// WriteJSON writes the results as one JSON document.
func WriteJSON(w io.Writer, rs []Result) error {
	type doc struct {
		Passed  int      `json:"passed"`
		Failed  int      `json:"failed"`
		Results []Result `json:"checks"`
	}
	if rs == nil {
		rs = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc{Passed: len(rs) - Failed(rs), Failed: Failed(rs), Results: rs})
}

// JUnit XML, as GitLab, Jenkins and GitHub's test reporters read it: one
// test suite for the lab, one test case per check.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the results of the lab's checks as a JUnit XML file
// at path; started is when the run began.
func WriteJUnit(path, lab string, started time.Time, rs []Result) error {
	var total time.Duration
	suite := junitSuite{Name: lab, Tests: len(rs), Failures: Failed(rs), Timestamp: started.UTC().Format("2006-01-02T15:04:05")}
	for _, r := range rs {
		if r.Duration > total {
			total = r.Duration // they run in parallel
		}
		var lines []string
		for _, p := range r.Probes {
			mark := "ok"
			if !p.Passed {
				mark = "FAILED"
			}
			lines = append(lines, fmt.Sprintf("%s: %s: %s (%d attempt(s), %s)", p.What, mark, p.Observed, p.Attempts, p.Duration.Round(time.Millisecond)))
		}
		c := junitCase{Name: r.Name, Classname: "labform." + lab, File: r.Range.Filename, Time: seconds(r.Duration)}
		if r.Passed {
			c.SystemOut = &junitText{Text: strings.Join(lines, "\n")}
		} else {
			typ := ""
			for _, p := range r.Probes {
				if !p.Passed {
					typ = p.Kind
					break
				}
			}
			c.Failure = &junitFailure{Message: r.Message, Type: typ,
				Text: fmt.Sprintf("check %q (%s)\n%s", r.Name, r.Location(), strings.Join(lines, "\n"))}
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Time = seconds(total)
	doc := junitSuites{Name: "labform checks", Tests: suite.Tests, Failures: suite.Failures, Time: suite.Time, Suites: []junitSuite{suite}}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	b = append([]byte(xml.Header), append(b, '\n')...)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
