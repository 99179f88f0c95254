package schema

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// reportAll makes a reason list every error (de-duplicated, joined with
// "; ") instead of only the first one the reference validator would stop at.
const reportAll = false

// The reference (AJV) checks the keywords of a schema in a fixed order: the
// type, then keywords that apply to any value, then number, string, array
// and object keywords. Within an object it checks required (in schema
// order), then additionalProperties (in instance key order), then properties
// (in schema order); array items go by index. santhosh-tekuri/jsonschema
// collects errors in another, partly random order, so every error is given a
// key that follows the reference's order and the smallest key is reported.
const (
	gType = iota - 1
	gAny
	gNumber
	gString
	gArray
	gObject
)

var keywordRank = map[string][2]int{
	"type":                  {gType, 0},
	"format":                {gType, 1},
	"$ref":                  {gAny, 0},
	"$dynamicRef":           {gAny, 1},
	"$recursiveRef":         {gAny, 1},
	"const":                 {gAny, 2},
	"enum":                  {gAny, 3},
	"not":                   {gAny, 4},
	"anyOf":                 {gAny, 5},
	"oneOf":                 {gAny, 6},
	"allOf":                 {gAny, 7},
	"if":                    {gAny, 8},
	"then":                  {gAny, 8},
	"else":                  {gAny, 8},
	"maximum":               {gNumber, 0},
	"minimum":               {gNumber, 1},
	"exclusiveMaximum":      {gNumber, 2},
	"exclusiveMinimum":      {gNumber, 3},
	"multipleOf":            {gNumber, 4},
	"maxLength":             {gString, 0},
	"minLength":             {gString, 1},
	"pattern":               {gString, 2},
	"contentEncoding":       {gString, 3},
	"contentMediaType":      {gString, 4},
	"contentSchema":         {gString, 5},
	"maxItems":              {gArray, 0},
	"minItems":              {gArray, 1},
	"uniqueItems":           {gArray, 2},
	"prefixItems":           {gArray, 3},
	"additionalItems":       {gArray, 4},
	"items":                 {gArray, 5},
	"contains":              {gArray, 6},
	"minContains":           {gArray, 6},
	"maxContains":           {gArray, 6},
	"unevaluatedItems":      {gArray, 7},
	"maxProperties":         {gObject, 0},
	"minProperties":         {gObject, 1},
	"required":              {gObject, 2},
	"propertyNames":         {gObject, 3},
	"additionalProperties":  {gObject, 4},
	"dependencies":          {gObject, 5},
	"dependentRequired":     {gObject, 5},
	"properties":            {gObject, 6},
	"patternProperties":     {gObject, 7},
	"dependentSchemas":      {gObject, 8},
	"unevaluatedProperties": {gObject, 9},
}

func rank(kw string) (int, int) {
	if r, ok := keywordRank[kw]; ok {
		return r[0], r[1]
	}
	return gAny, 99
}

// groupKeywords are the keywords of the reference's per-type rule groups
// (format left out: the generator's number formats are not in the
// reference's schemas).
var groupKeywords = map[string][]string{
	"number": {"maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "multipleOf"},
	"string": {"maxLength", "minLength", "pattern"},
	"array":  {"maxItems", "minItems", "uniqueItems", "prefixItems", "additionalItems", "items", "contains"},
	"object": {"maxProperties", "minProperties", "required", "propertyNames", "additionalProperties",
		"dependencies", "dependentRequired", "properties", "patternProperties", "dependentSchemas"},
}

type navStep struct {
	tok    string
	target string // for $ref and friends: the fragment of the referenced schema
	jump   bool
}

type leaf struct {
	kind jsonschema.ErrorKind
	inst []string
	nav  []navStep
	sub  string // the property of a required or additionalProperties error
	key  []int
	node *object // the schema holding the failed keyword
}

type reporter struct {
	doc      *object
	raw      []byte
	inst     any
	instDone bool
}

func newReporter(doc *object, raw []byte) *reporter { return &reporter{doc: doc, raw: raw} }

// reason formats the first error the reference would report, or with all
// every error in the reference's order.
func (r *reporter) reason(verr *jsonschema.ValidationError, all bool) string {
	var leaves []*leaf
	collect(verr, "", nil, &leaves)
	if len(leaves) == 0 {
		return "unknown validation error"
	}
	for _, l := range leaves {
		r.computeKey(l)
	}
	sort.SliceStable(leaves, func(i, j int) bool { return slices.Compare(leaves[i].key, leaves[j].key) < 0 })
	if !all {
		leaves = leaves[:1]
	}
	var parts []string
	seen := map[string]bool{}
	for _, l := range leaves {
		p := r.format(l)
		if p != "" && !seen[p] {
			seen[p] = true
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return "unknown validation error"
	}
	return strings.Join(parts, "; ")
}

// fragment returns the JSON pointer part of a schema location.
func fragment(loc string) string {
	if i := strings.IndexByte(loc, '#'); i >= 0 {
		return loc[i+1:]
	}
	return ""
}

func appendTokens(nav []navStep, ptr string) []navStep {
	out := slices.Clone(nav)
	if ptr == "" {
		return out
	}
	for _, t := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		t = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
		out = append(out, navStep{tok: t})
	}
	return out
}

// collect flattens the error tree into leaves, recording for each the path
// through the schema (following references) that led to it. ctx is the
// location of the schema whose validation produced e.
func collect(e *jsonschema.ValidationError, ctx string, nav []navStep, out *[]*leaf) {
	ptr := fragment(e.SchemaURL)
	var steps []navStep
	if rel, ok := strings.CutPrefix(ptr, ctx); ok && (rel == "" || rel[0] == '/') {
		steps = appendTokens(nav, rel)
	} else {
		steps = appendTokens(nil, ptr)
	}
	add := func(sub string) {
		*out = append(*out, &leaf{kind: e.ErrorKind, inst: e.InstanceLocation, nav: steps, sub: sub})
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.AllOf:
		for _, c := range e.Causes {
			collect(c, ptr, steps, out)
		}
	case *kind.Reference:
		target := fragment(k.URL)
		next := append(slices.Clone(steps), navStep{tok: k.Keyword, target: target, jump: true})
		for _, c := range e.Causes {
			collect(c, target, next, out)
		}
	case *kind.Required:
		for _, m := range k.Missing {
			add(m)
		}
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			add(p)
		}
	default:
		add("")
	}
}

// computeKey walks the leaf's schema path and instance location and builds
// its key in the reference's order.
func (r *reporter) computeKey(l *leaf) {
	node := r.doc
	ii := 0 // instance tokens consumed
	instTok := func() string {
		if ii < len(l.inst) {
			return l.inst[ii]
		}
		return ""
	}
	var key []int
	nav := l.nav
	for i := 0; i < len(nav); i++ {
		s := nav[i]
		if s.jump {
			g, rk := rank(s.tok)
			key = append(key, g, rk, 0)
			node = r.resolve(s.target)
			continue
		}
		next := func() string {
			if i+1 < len(nav) {
				i++
				return nav[i].tok
			}
			return ""
		}
		g, rk := rank(s.tok)
		switch s.tok {
		case "properties", "dependentSchemas", "dependencies":
			name := next()
			m := node.obj(s.tok)
			key = append(key, g, rk, m.index(name))
			node = m.obj(name)
			if s.tok == "properties" {
				ii++
			}
		case "patternProperties":
			re := next()
			m := node.obj(s.tok)
			key = append(key, g, rk, m.index(re), r.instKeyIndex(l.inst[:min(ii, len(l.inst))], instTok()))
			node = m.obj(re)
			ii++
		case "additionalProperties", "unevaluatedProperties":
			key = append(key, g, rk, r.instKeyIndex(l.inst[:min(ii, len(l.inst))], instTok()))
			node = node.obj(s.tok)
			ii++
		case "items", "additionalItems", "unevaluatedItems", "contains":
			idx, _ := strconv.Atoi(instTok())
			key = append(key, g, rk, idx)
			node = node.obj(s.tok)
			ii++
		case "prefixItems":
			j, _ := strconv.Atoi(next())
			key = append(key, g, rk, j)
			node = elem(node.get(s.tok), j)
			ii++
		case "allOf", "anyOf", "oneOf":
			j, _ := strconv.Atoi(next())
			key = append(key, g, rk, j)
			node = elem(node.get(s.tok), j)
		default:
			// then, else, not, propertyNames, $defs, …
			key = append(key, g, rk, 0)
			if a, ok := node.get(s.tok).([]any); ok {
				j, _ := strconv.Atoi(next())
				node = elem(a, j)
			} else {
				node = node.obj(s.tok)
			}
		}
	}
	kw := keywordOf(l.kind)
	g, rk := rank(kw)
	sub := 0
	switch kw {
	case "required":
		sub = slices.Index(node.strings("required"), l.sub)
	case "additionalProperties":
		sub = r.instKeyIndex(l.inst, l.sub)
	}
	l.key = append(key, g, rk, sub)
	l.node = node
}

func keywordOf(k jsonschema.ErrorKind) string {
	if p := k.KeywordPath(); len(p) > 0 {
		return p[0]
	}
	return ""
}

func elem(v any, i int) *object {
	if a, ok := v.([]any); ok && i >= 0 && i < len(a) {
		o, _ := a[i].(*object)
		return o
	}
	return nil
}

// resolve finds the schema at a JSON pointer of the document.
func (r *reporter) resolve(ptr string) *object {
	var cur any = r.doc
	for _, s := range appendTokens(nil, ptr) {
		switch c := cur.(type) {
		case *object:
			cur = c.get(s.tok)
		case []any:
			j, err := strconv.Atoi(s.tok)
			if err != nil || j < 0 || j >= len(c) {
				return nil
			}
			cur = c[j]
		default:
			return nil
		}
	}
	o, _ := cur.(*object)
	return o
}

// instKeyIndex is the position of key among the keys of the instance object
// at path, in document order.
func (r *reporter) instKeyIndex(path []string, key string) int {
	if !r.instDone {
		r.instDone = true
		r.inst, _ = decodeOrdered(r.raw)
	}
	cur := r.inst
	for _, t := range path {
		switch c := cur.(type) {
		case *object:
			cur = c.get(t)
		case []any:
			j, err := strconv.Atoi(t)
			if err != nil || j < 0 || j >= len(c) {
				return 0
			}
			cur = c[j]
		default:
			return 0
		}
	}
	if o, ok := cur.(*object); ok {
		if i := o.index(key); i >= 0 {
			return i
		}
		return len(o.keys)
	}
	return 0
}

// format renders one error the way the reference's formatValidationErrors
// renders an AJV error.
func (r *reporter) format(l *leaf) string {
	path := instancePath(l.inst)
	switch l.kind.(type) {
	case *kind.AdditionalProperties:
		where := "at root"
		if path != "" {
			where = "at " + path
		}
		return where + ": unexpected property '" + l.sub + "'"
	}
	msg := ajvMessage(l)
	if path == "" {
		return msg
	}
	return "at " + path + ": " + msg
}

func instancePath(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// ajvMessage is AJV's default English message for an error.
func ajvMessage(l *leaf) string {
	switch k := l.kind.(type) {
	case *kind.Type:
		types := l.node.strings("type")
		if len(types) == 0 {
			types = k.Want
		}
		// The reference checks const/enum before the type when the schema has
		// other keywords for its single type.
		if len(types) == 1 && hasGroupRules(l.node, types[0]) {
			if l.node.has("const") {
				return "must be equal to constant"
			}
			if l.node.has("enum") {
				return "must be equal to one of the allowed values"
			}
		}
		return "must be " + strings.Join(types, ",")
	case *kind.Format:
		switch k.Want {
		case "int64":
			return "must be integer"
		case "double":
			return "must be number"
		}
		return `must match format "` + k.Want + `"`
	case *kind.Enum:
		return "must be equal to one of the allowed values"
	case *kind.Const:
		return "must be equal to constant"
	case *kind.Required:
		return "must have required property '" + l.sub + "'"
	case *kind.MinLength:
		return fmt.Sprintf("must NOT have fewer than %d characters", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must NOT have more than %d characters", k.Want)
	case *kind.Pattern:
		return `must match pattern "` + k.Want + `"`
	case *kind.Minimum:
		return "must be >= " + jsNumber(k.Want)
	case *kind.Maximum:
		return "must be <= " + jsNumber(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be > " + jsNumber(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be < " + jsNumber(k.Want)
	case *kind.MultipleOf:
		return "must be multiple of " + jsNumber(k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("must NOT have fewer than %d items", k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("must NOT have more than %d items", k.Want)
	case *kind.AdditionalItems:
		items, _ := l.node.get("prefixItems").([]any)
		if items == nil {
			items, _ = l.node.get("items").([]any)
		}
		return fmt.Sprintf("must NOT have more than %d items", len(items))
	case *kind.UniqueItems:
		return fmt.Sprintf("must NOT have duplicate items (items ## %d and %d are identical)", k.Duplicates[1], k.Duplicates[0])
	case *kind.MinProperties:
		return fmt.Sprintf("must NOT have fewer than %d properties", k.Want)
	case *kind.MaxProperties:
		return fmt.Sprintf("must NOT have more than %d properties", k.Want)
	case *kind.Dependency:
		return dependencyMessage(k.Prop, k.Missing)
	case *kind.DependentRequired:
		return dependencyMessage(k.Prop, k.Missing)
	case *kind.PropertyNames:
		return "property name must be valid"
	case *kind.Contains:
		return "must contain at least 1 valid item(s)"
	case *kind.MinContains:
		return fmt.Sprintf("must contain at least %d valid item(s)", k.Want)
	case *kind.MaxContains:
		return fmt.Sprintf("must contain at most %d valid item(s)", k.Want)
	case *kind.Not:
		return "must NOT be valid"
	case *kind.AnyOf:
		return "must match a schema in anyOf"
	case *kind.OneOf:
		return "must match exactly one schema in oneOf"
	case *kind.FalseSchema:
		return "boolean schema is false"
	}
	return l.kind.LocalizedString(message.NewPrinter(language.English))
}

func hasGroupRules(node *object, typ string) bool {
	for _, kw := range groupKeywords[typ] {
		if node.has(kw) {
			return true
		}
	}
	return false
}

func dependencyMessage(prop string, missing []string) string {
	word := "property"
	if len(missing) != 1 {
		word = "properties"
	}
	return "must have " + word + " " + strings.Join(missing, ", ") + " when property " + prop + " is present"
}

// jsNumber prints a number the way JavaScript's Number#toString does for
// the usual magnitudes.
func jsNumber(r *big.Rat) string {
	if r == nil {
		return "NaN"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	if a := max(f, -f); a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1e-07
	mant, exp, _ := strings.Cut(s, "e")
	sign := exp[0]
	exp = strings.TrimLeft(exp[1:], "0")
	return mant + "e" + string(sign) + exp
}
