package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// fastParse parses src[from:to], a run of whole top-level lines starting
// at start, when it is written in the plain shape that labs written out
// block by block (by hand or by a generator) have: blocks with quoted or
// bare labels, one attribute per line whose value is a number, a quoted
// string without escapes or interpolations, true, false, null, a
// reference (vm.a.port[0]) or a tuple of these; ASCII only, no comments.
//
// What it returns is the body HCL's own parser makes of the same text:
// the same node types, values and ranges (TestFastParseIsHCL compares
// them). It reports false for anything else, and then HCL's parser reads
// the text: fastParse never reports a diagnostic, so every error message
// is HCL's. It exists because HCL's lexer and parser took a third of
// validate's time on a large lab (a token slice grown by appending, and
// grapheme segmentation of every token to count columns, which for ASCII
// text is the byte count).
func fastParse(src []byte, filename string, from, to int, start hcl.Pos) (body *hclsyntax.Body, ok bool) {
	for _, c := range src[from:to] {
		if c >= 0x80 || (c < 0x20 && c != '\n' && c != '\t') {
			return nil, false
		}
	}
	p := &fastParser{src: src, filename: filename, i: from, end: to, line: start.Line, lineStart: from - (start.Column - 1)}
	defer func() {
		if r := recover(); r != nil {
			if _, bail := r.(notFast); !bail {
				panic(r)
			}
			body, ok = nil, false
		}
	}()
	body, _ = p.body(nil)
	return body, true
}

// notFast is the panic that ends fastParse at the first thing it does
// not handle.
type notFast struct{}

type fastParser struct {
	src       []byte
	filename  string
	i, end    int
	line      int // the line of byte i
	lineStart int // the byte offset where that line starts
}

func bail() { panic(notFast{}) }

func (p *fastParser) pos(i int) hcl.Pos {
	return hcl.Pos{Line: p.line, Column: i - p.lineStart + 1, Byte: i}
}

// rng is the range of the bytes [a, b) of the current line.
func (p *fastParser) rng(a, b int) hcl.Range {
	return hcl.Range{Filename: p.filename, Start: p.pos(a), End: p.pos(b)}
}

func (p *fastParser) spaces() {
	for p.i < p.end && (p.src[p.i] == ' ' || p.src[p.i] == '\t') {
		p.i++
	}
}

// spacesAndNewlines skips white space where newlines do not count (inside
// brackets).
func (p *fastParser) spacesAndNewlines() {
	for p.i < p.end {
		switch p.src[p.i] {
		case ' ', '\t':
			p.i++
		case '\n':
			p.newline()
		default:
			return
		}
	}
}

// newline consumes the newline at i and returns its token's range.
func (p *fastParser) newline() hcl.Range {
	r := hcl.Range{Filename: p.filename, Start: p.pos(p.i), End: hcl.Pos{Line: p.line + 1, Column: 1, Byte: p.i + 1}}
	p.i++
	p.line++
	p.lineStart = p.i
	return r
}

func (p *fastParser) peek() byte {
	if p.i >= p.end {
		bail()
	}
	return p.src[p.i]
}

func fastIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func fastIdentByte(c byte) bool {
	return fastIdentStart(c) || c == '-' || (c >= '0' && c <= '9')
}

// ident reads an identifier.
func (p *fastParser) ident() (string, hcl.Range) {
	s := p.i
	if !fastIdentStart(p.peek()) {
		bail()
	}
	for p.i < p.end && fastIdentByte(p.src[p.i]) {
		p.i++
	}
	return string(p.src[s:p.i]), p.rng(s, p.i)
}

// body parses a body up to its closing brace (open is the opening
// brace's range), or, with open nil, the top level up to the end. It
// also returns the range of the closing brace (or of the end).
func (p *fastParser) body(open *hcl.Range) (*hclsyntax.Body, hcl.Range) {
	attrs := hclsyntax.Attributes{}
	blocks := hclsyntax.Blocks{}
	var startRange, endRange hcl.Range
	if open != nil {
		startRange = *open
	} else {
		// HCL starts the top-level body at its first token.
		p.spaces()
		switch {
		case p.i == p.end:
			startRange = p.rng(p.i, p.i)
		case p.src[p.i] == '\n':
			startRange = hcl.Range{Filename: p.filename, Start: p.pos(p.i), End: hcl.Pos{Line: p.line + 1, Column: 1, Byte: p.i + 1}}
		case fastIdentStart(p.src[p.i]):
			e := p.i
			for e < p.end && fastIdentByte(p.src[e]) {
				e++
			}
			startRange = p.rng(p.i, e)
		default:
			bail()
		}
	}
	for {
		p.spaces()
		if p.i == p.end {
			if open != nil {
				bail()
			}
			endRange = p.rng(p.i, p.i) // the end of file token
			break
		}
		c := p.src[p.i]
		if c == '}' && open != nil {
			endRange = p.rng(p.i, p.i+1)
			p.i++
			break
		}
		if c == '\n' {
			p.newline()
			continue
		}
		name, nameRange := p.ident()
		p.spaces()
		if p.peek() == '=' {
			eq := p.rng(p.i, p.i+1)
			p.i++
			p.spaces()
			expr, last := p.expr()
			p.endOfItem()
			if _, dup := attrs[name]; dup {
				bail()
			}
			attrs[name] = &hclsyntax.Attribute{Name: name, Expr: expr,
				SrcRange: hcl.RangeBetween(nameRange, last), NameRange: nameRange, EqualsRange: eq}
			continue
		}
		blocks = append(blocks, p.block(name, nameRange))
	}
	return &hclsyntax.Body{
		Attributes: attrs,
		Blocks:     blocks,
		SrcRange:   hcl.RangeBetween(startRange, endRange),
		EndRange:   hcl.Range{Filename: endRange.Filename, Start: endRange.End, End: endRange.End},
	}, endRange
}

// endOfItem consumes the newline after an attribute or a block (or finds
// the end of the text).
func (p *fastParser) endOfItem() {
	p.spaces()
	if p.i == p.end {
		return
	}
	if p.src[p.i] != '\n' {
		bail()
	}
	p.newline()
}

// block parses a block's labels and body, its type already read.
func (p *fastParser) block(typ string, typeRange hcl.Range) *hclsyntax.Block {
	var labels []string
	var labelRanges []hcl.Range
	for {
		p.spaces()
		c := p.peek()
		if c == '{' {
			break
		}
		if c == '"' {
			open := p.i
			p.i++
			s := p.i
			for p.peek() != '"' {
				if c := p.src[p.i]; c == '\\' || c == '\n' || c == '$' || c == '%' {
					bail()
				}
				p.i++
			}
			p.i++
			labels = append(labels, string(p.src[s:p.i-1]))
			labelRanges = append(labelRanges, p.rng(open, p.i))
			continue
		}
		label, r := p.ident()
		labels = append(labels, label)
		labelRanges = append(labelRanges, r)
	}
	open := p.rng(p.i, p.i+1)
	p.i++
	p.spaces()
	if c := p.peek(); c != '\n' && c != '}' {
		bail() // a single-line block
	}
	body, closeRange := p.body(&open)
	p.endOfItem()
	return &hclsyntax.Block{Type: typ, Labels: labels, Body: body,
		TypeRange: typeRange, LabelRanges: labelRanges, OpenBraceRange: open, CloseBraceRange: closeRange}
}

// expr parses an expression: a term and, after a name, its traversal. It
// returns the range of its last token.
func (p *fastParser) expr() (hclsyntax.Expression, hcl.Range) {
	c := p.peek()
	switch {
	case c == '"':
		open := p.rng(p.i, p.i+1)
		p.i++
		s := p.i
		for p.peek() != '"' {
			switch p.src[p.i] {
			case '\\', '\n':
				bail()
			case '$', '%':
				if p.i+1 < p.end && (p.src[p.i+1] == '{' || p.src[p.i+1] == p.src[p.i]) {
					bail()
				}
			}
			p.i++
		}
		if p.i == s {
			bail() // "": HCL's template has no part
		}
		lit := p.rng(s, p.i)
		closeRange := p.rng(p.i, p.i+1)
		p.i++
		return &hclsyntax.TemplateExpr{
			Parts:    []hclsyntax.Expression{&hclsyntax.LiteralValueExpr{Val: cty.StringVal(string(p.src[s:lit.End.Byte])), SrcRange: lit}},
			SrcRange: hcl.RangeBetween(open, closeRange),
		}, closeRange
	case c == '[':
		open := p.rng(p.i, p.i+1)
		p.i++
		p.spacesAndNewlines()
		if p.i+3 < p.end && string(p.src[p.i:p.i+3]) == "for" && !fastIdentByte(p.src[p.i+3]) {
			bail() // a for expression
		}
		var exprs []hclsyntax.Expression
		for {
			p.spacesAndNewlines()
			if p.peek() == ']' {
				break
			}
			e, _ := p.expr()
			exprs = append(exprs, e)
			p.spacesAndNewlines()
			if p.peek() == ']' {
				break
			}
			if p.src[p.i] != ',' {
				bail()
			}
			p.i++
		}
		closeRange := p.rng(p.i, p.i+1)
		p.i++
		return &hclsyntax.TupleConsExpr{Exprs: exprs, SrcRange: hcl.RangeBetween(open, closeRange), OpenRange: open}, closeRange
	case c >= '0' && c <= '9':
		v, r := p.number()
		return &hclsyntax.LiteralValueExpr{Val: v, SrcRange: r}, r
	}
	name, r := p.ident()
	// A function call (f(...), ns::f(...)) is HCL's to parse.
	for j := p.i; j < p.end && p.src[j] != '\n'; j++ {
		if c := p.src[j]; c == '(' || c == ':' {
			bail()
		} else if c != ' ' && c != '\t' {
			break
		}
	}
	switch name {
	case "true", "false", "null":
		if p.i < p.end && (p.src[p.i] == '.' || p.src[p.i] == '[') {
			bail()
		}
		v := cty.True
		if name == "false" {
			v = cty.False
		} else if name == "null" {
			v = cty.NullVal(cty.DynamicPseudoType)
		}
		return &hclsyntax.LiteralValueExpr{Val: v, SrcRange: r}, r
	}
	tr := hcl.Traversal{hcl.TraverseRoot{Name: name, SrcRange: r}}
	last := r
	for p.i < p.end {
		switch p.src[p.i] {
		case '.':
			dot := p.rng(p.i, p.i+1)
			p.i++
			attr, ar := p.ident()
			tr = append(tr, hcl.TraverseAttr{Name: attr, SrcRange: hcl.RangeBetween(dot, ar)})
			last = ar
			continue
		case '[':
			open := p.rng(p.i, p.i+1)
			p.i++
			p.spacesAndNewlines()
			if c := p.peek(); c < '0' || c > '9' {
				bail()
			}
			key, _ := p.number()
			p.spacesAndNewlines()
			if p.peek() != ']' {
				bail()
			}
			closeRange := p.rng(p.i, p.i+1)
			p.i++
			tr = append(tr, hcl.TraverseIndex{Key: key, SrcRange: hcl.RangeBetween(open, closeRange)})
			last = closeRange
			continue
		}
		break
	}
	return &hclsyntax.ScopeTraversalExpr{Traversal: tr, SrcRange: hcl.RangeBetween(r, last)}, last
}

// number reads a whole number in decimal.
func (p *fastParser) number() (cty.Value, hcl.Range) {
	s := p.i
	for p.i < p.end && p.src[p.i] >= '0' && p.src[p.i] <= '9' {
		p.i++
	}
	if p.i < p.end && (fastIdentByte(p.src[p.i]) || p.src[p.i] == '.') {
		bail() // a fraction, an exponent, or something HCL reports
	}
	v, err := cty.ParseNumberVal(string(p.src[s:p.i]))
	if err != nil {
		bail()
	}
	return v, p.rng(s, p.i)
}
