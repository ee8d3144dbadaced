package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// Limits on what a lab may ask of labform. They bound the time and memory
// that validate, plan and apply can spend on one lab, whatever its files
// say: a mistake (count = 100000) or a hostile file (a megabyte of
// parentheses) gets a diagnostic instead of minutes of work, gigabytes of
// memory or a stack overflow. They are far above what the largest lab of
// the benchmarks uses (42,000 instances, 2,500 per resource, nesting
// below 10).
const (
	// MaxFileSize is the largest lab file read, in bytes (10 MiB).
	MaxFileSize = 10 << 20
	// MaxLabSize is the largest total of a lab's files, in bytes (32 MiB).
	MaxLabSize = 32 << 20
	// MaxExprDepth bounds how deeply an expression nests: brackets,
	// template interpolations and operators (a chain of 600 + is 600
	// deep), as a conservative count made before HCL parses the file.
	MaxExprDepth = 500
	// MaxTokens bounds the words, numbers, strings and punctuation of a
	// lab's files together, as counted before HCL parses them: what HCL
	// and the evaluation hold in memory grows with it, while the file
	// size alone says little. Five million admits a lab of 20,000 nodes
	// written out block by block (42,000 resources, 10 MB); a list of
	// five million numbers ([1,1,1,...]) is the worst case per token.
	MaxTokens = 5000000
	// MaxInstances is the most instances one resource may have, through
	// count or for_each.
	MaxInstances = 10000
	// MaxLabInstances is the most instances a whole lab may have.
	MaxLabInstances = 50000
)

// CheckSource checks an HCL source before any parser sees it: its size
// (MaxFileSize), its tokens (MaxTokens) and how deeply its expressions
// nest (MaxExprDepth), since HCL's parsers recurse once per level and
// 100,000 levels overflow the stack, a fatal error that no recover
// catches.
func CheckSource(filename string, src []byte) *hcl.Diagnostic {
	_, _, d := checkSource(filename, src, 0)
	return d
}

// checkSource is CheckSource for a file of a lab whose other files have
// tokens tokens; it returns the file's, and where its top-level lines
// start (see checkDepth).
func checkSource(filename string, src []byte, tokens int) (int, []hcl.Pos, *hcl.Diagnostic) {
	start := &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
	if len(src) > MaxFileSize {
		return 0, nil, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Lab file too large",
			Detail:  fmt.Sprintf("This file has %d bytes; a lab file has at most %d (%d MiB). Split it into several files.", len(src), MaxFileSize, MaxFileSize>>20),
			Subject: start}
	}
	n, cuts, d := checkDepth(filename, src)
	if d != nil {
		return n, nil, d
	}
	if tokens+n > MaxTokens {
		return n, nil, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Lab too large",
			Detail:  fmt.Sprintf("The lab's files hold more than %d tokens (words, numbers, strings and punctuation), the most labform reads, so that a lab cannot make it use gigabytes of memory; this file is not read. Use count, for_each and functions rather than writing values out.", MaxTokens),
			Subject: start}
	}
	return n, cuts, nil
}

// checkDepth scans a lab file's bytes, without parsing them, for an
// expression nested more than MaxExprDepth deep: HCL's parser and
// evaluator recurse once per level, so 100,000 levels would overflow the
// stack, a fatal error no recover can catch. It follows HCL's lexical
// structure closely enough to tell code from the text of strings,
// heredocs and comments: brackets and template interpolations count one
// level each, and every operator character counts one level in its
// bracket (binary operators chain into a tree as deep as the chain), until
// a comma or, outside parentheses and brackets, a newline ends the item.
// The count errs upward (== counts two), never downward. It also counts
// the file's tokens, as HCL's lexer would roughly make them, and the
// positions where a line starts outside any block, bracket, string or
// heredoc: where the file may be cut into pieces that parse on their own.
func checkDepth(filename string, src []byte) (int, []hcl.Pos, *hcl.Diagnostic) {
	return scanDepth(filename, src, false)
}

// checkTemplateSource checks a template file (templatefile's) before
// HCL parses it: its size and tokens as a lab file's, and the nesting of
// its interpolations, the template's text being read as a heredoc's.
func checkTemplateSource(filename string, src []byte) *hcl.Diagnostic {
	if len(src) > MaxFileSize {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Template file too large",
			Detail:  fmt.Sprintf("This file has %d bytes; a template has at most %d (%d MiB).", len(src), MaxFileSize, MaxFileSize>>20),
			Subject: &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}}
	}
	n, _, d := scanDepth(filename, src, true)
	if d == nil && n > MaxTokens {
		d = &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Template too large",
			Detail:  fmt.Sprintf("The template holds more than %d tokens, the most labform reads.", MaxTokens),
			Subject: &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}}
	}
	return d
}

// scanDepth is checkDepth for a lab file, or, with template, for a
// template file: text, as in a heredoc that never ends, with
// interpolations and directives.
func scanDepth(filename string, src []byte, template bool) (int, []hcl.Pos, *hcl.Diagnostic) {
	type frame struct {
		open byte // ( [ { for code; '"' a quoted string; '$' an interpolation; '<' a heredoc
		ops  int
		tag  string // a heredoc's closing marker
	}
	stack := []frame{{open: '{'}} // the file body
	depth, tokens := 1, 0
	var cuts []hcl.Pos
	if template {
		stack = append(stack, frame{open: '<', tag: "\x00"}) // a marker no line holds
		depth++
	}
	line, col := 1, 1
	fail := func(i int) *hcl.Diagnostic {
		pos := hcl.Pos{Line: line, Column: col, Byte: i}
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Expression nested too deeply",
			Detail:  fmt.Sprintf("An expression here nests more than %d levels deep (brackets, interpolations and chained operators). labform stops here rather than risk its stack; split the expression with locals.", MaxExprDepth),
			Subject: &hcl.Range{Filename: filename, Start: pos, End: hcl.Pos{Line: line, Column: col + 1, Byte: i + 1}}}
	}
	push := func(f frame, i int) *hcl.Diagnostic {
		stack = append(stack, f)
		depth++
		if depth > MaxExprDepth {
			return fail(i)
		}
		return nil
	}
	pop := func() {
		if len(stack) > 1 {
			top := stack[len(stack)-1]
			depth -= 1 + top.ops
			stack = stack[:len(stack)-1]
		}
	}
	atLineStart := true
	for i := 0; i < len(src); i++ {
		c := src[i]
		top := &stack[len(stack)-1]
		startOfLine := atLineStart
		atLineStart = false
		if c == '\n' {
			line, col = line+1, 1
			atLineStart = true
			if len(stack) == 1 && i+1 < len(src) {
				cuts = append(cuts, hcl.Pos{Line: line, Column: 1, Byte: i + 1})
			}
		} else {
			col++
		}
		switch top.open {
		case '"': // a quoted template
			if plainTextByte(c) {
				// The rest of a run of plain text changes only the column.
				for i+1 < len(src) && plainTextByte(src[i+1]) {
					i++
					col++
				}
				continue
			}
			switch {
			case c == '\\' && i+1 < len(src):
				i++
				col++
			case c == '"':
				pop()
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == c:
				i++ // $${ and %%{ are a literal ${ and %{
				col++
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				i++
				col++
				tokens += 2 // the interpolation and the text after it
				if d := push(frame{open: '$'}, i); d != nil {
					return tokens, nil, d
				}
			case c == '\n':
				pop() // an unterminated string; HCL reports it
			}
			continue
		case '<': // a heredoc: text up to a line holding only its marker
			if c == '\n' {
				tokens++ // HCL makes a token of each line
			}
			if startOfLine {
				j := i
				for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
					j++
				}
				if end := j + len(top.tag); end <= len(src) && string(src[j:end]) == top.tag && (end == len(src) || src[end] == '\n' || src[end] == '\r') {
					pop()
					col += end - i - 1
					i = end - 1
					continue
				}
			}
			if (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == c {
				i++
				col++
				continue
			}
			if (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{' {
				i++
				col++
				tokens += 2 // the interpolation and the text after it
				if d := push(frame{open: '$'}, i); d != nil {
					return tokens, nil, d
				}
			}
			continue
		}
		// Code.
		switch {
		case isIdentByte(c):
			if i == 0 || !isIdentByte(src[i-1]) {
				tokens++
			}
		case c != ' ' && c != '\t' && c != '\r':
			tokens++
		}
		if plainCodeByte(c) {
			// The rest of a run of letters, digits and blanks changes only
			// the column: none starts a token ('-' may, as an operator).
			for i+1 < len(src) && plainCodeByte(src[i+1]) && (isIdentByte(c) == isIdentByte(src[i+1])) {
				i++
				col++
			}
			continue
		}
		switch c {
		case '#':
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
		case '/':
			switch {
			case i+1 < len(src) && src[i+1] == '/':
				for i+1 < len(src) && src[i+1] != '\n' {
					i++
				}
			case i+1 < len(src) && src[i+1] == '*':
				i += 2
				for i < len(src) && !(src[i] == '*' && i+1 < len(src) && src[i+1] == '/') {
					if src[i] == '\n' {
						line, col = line+1, 1
					} else {
						col++
					}
					i++
				}
				i++
				col += 2
			default:
				top.ops++
				depth++
			}
		case '"':
			tokens += 2 // the quote and the text
			if d := push(frame{open: '"'}, i); d != nil {
				return tokens, nil, d
			}
		case '<':
			if i+1 < len(src) && src[i+1] == '<' {
				j := i + 2
				if j < len(src) && src[j] == '-' {
					j++
				}
				k := j
				for k < len(src) && (isIdentByte(src[k])) {
					k++
				}
				if k > j && k < len(src) && (src[k] == '\n' || src[k] == '\r') {
					tokens++
					if d := push(frame{open: '<', tag: string(src[j:k])}, i); d != nil {
						return tokens, nil, d
					}
					col += k - i - 1
					i = k - 1
					continue
				}
			}
			top.ops++
			depth++
		case '(', '[', '{':
			if c == '[' && i > 0 && (isIdentByte(src[i-1]) || src[i-1] == ')' || src[i-1] == ']' || src[i-1] == '}' || src[i-1] == '"') {
				// An index or splat applied to a value nests it.
				top.ops++
				depth++
			}
			if d := push(frame{open: c}, i); d != nil {
				return tokens, nil, d
			}
		case ')', ']', '}':
			pop()
		case ',':
			depth -= top.ops
			top.ops = 0
		case '\n':
			if top.open == '{' {
				depth -= top.ops
				top.ops = 0
			}
		case '+', '-', '*', '%', '!', '?', ':', '>', '=', '&', '|':
			top.ops++
			depth++
		}
		if depth > MaxExprDepth {
			return tokens, nil, fail(i)
		}
	}
	return tokens, cuts, nil
}

// plainTextByte is a byte of a quoted string that ends nothing and
// starts nothing.
func plainTextByte(c byte) bool {
	return c != '\\' && c != '"' && c != '$' && c != '%' && c != '\n'
}

// plainCodeByte is a byte of code that neither counts as an operator nor
// opens or closes anything: a letter, a digit, an underscore, a blank.
func plainCodeByte(c byte) bool {
	return c == '_' || c == ' ' || c == '\t' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}
