package router

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/router/routertest"
)

// TestMatcherAgreesWithReference compiles many random rules into one
// Matcher and checks, on many random events, that it selects exactly the
// routes that the reference evaluator selects one rule at a time. Values
// come from small vocabularies so that rules and events often meet.
func TestMatcherAgreesWithReference(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 5
	}
	for seed := range seeds {
		g := &ruleGen{r: rand.New(rand.NewPCG(uint64(seed), 7))}
		rules := map[string]Rule{}
		refRules := map[string]routertest.Rule{}
		for i := range 60 {
			r := g.rule()
			if err := r.Validate(Limits{}); err != nil {
				t.Fatalf("seed %d: the generator made an invalid rule %s %s: %v", seed, r.Match, r.Filters, err)
			}
			name := fmt.Sprintf("r%02d", i)
			rules[name] = r
			refRules[name] = routertest.Rule{Match: r.Match, Filters: r.Filters}
		}
		m, err := NewMatcher(rules, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		ref, err := routertest.NewEvaluator(refRules)
		if err != nil {
			t.Fatal(err)
		}
		for range 300 {
			doc := g.event()
			e, err := ParseEventJSON(doc)
			if err != nil {
				t.Fatalf("event %s: %v", doc, err)
			}
			re, err := routertest.DecodeEvent(doc)
			if err != nil {
				t.Fatal(err)
			}
			got, want := m.Match(e), ref.Match(re)
			if !slices.Equal(got, want) {
				for _, name := range symmetricDifference(got, want) {
					t.Errorf("seed %d: route %s: matcher says %v, reference says %v\nrule: %s %s\nevent: %s",
						seed, name, slices.Contains(got, name), slices.Contains(want, name), rules[name].Match, rules[name].Filters, doc)
				}
				t.FailNow()
			}
			for _, name := range want {
				// Explain must agree too, one rule at a time.
				if ex, _ := Explain(rules[name], e); !ex.Matched {
					t.Fatalf("seed %d: Explain says %s does not match %s: %s", seed, rules[name].Match, doc, ex.Reason)
				}
			}
		}
	}
}

func symmetricDifference(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			out = append(out, x)
		}
	}
	return out
}

// ruleGen makes random rules and events over a shared small vocabulary.
type ruleGen struct{ r *rand.Rand }

var (
	genFields  = [][]string{{"type"}, {"source"}, {"subject"}, {"x"}, {"data", "a"}, {"data", "b"}, {"data", "n", "m"}, {"data", "list"}}
	genStrings = []string{"", "a", "ab", "abc", "Ab", "ABC", "b", "ba", "a*c", "10.0.0.1", "10.1.2.3", "2001:db8::1", "ſ", "S", "ǅ"}
	genNumbers = []string{"0", "1", "1.5", "-2", "3", "3.0", "5e9", "1e-7", "0.000001"}
)

func (g *ruleGen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g *ruleGen) str() string { return quoteJSON(g.pick(genStrings)) }

func (g *ruleGen) rule() Rule {
	var r Rule
	if g.r.IntN(5) > 0 {
		r.Match = json.RawMessage(g.pattern(0))
	}
	if g.r.IntN(4) == 0 {
		r.Filters = json.RawMessage("[" + g.filter(0) + "]")
	}
	return r
}

// pattern builds an object of 1-3 fields, nested into data when the path
// says so, with an occasional $or.
func (g *ruleGen) pattern(depth int) string {
	members := map[string][]string{} // top-level key -> JSON members inside
	var top []string
	n := 1 + g.r.IntN(3)
	for range n {
		path := genFields[g.r.IntN(len(genFields))]
		field := quoteJSON(path[len(path)-1]) + ":" + g.values()
		for i := len(path) - 2; i >= 1; i-- {
			field = quoteJSON(path[i]) + ":{" + field + "}"
		}
		if len(path) > 1 {
			members[path[0]] = append(members[path[0]], field)
			continue
		}
		if !slices.Contains(top, field) && !strings.Contains(strings.Join(top, ","), quoteJSON(path[0])+":") {
			top = append(top, field)
		}
	}
	if len(members["data"]) > 0 {
		// Several paths under data share one object; keep the first of
		// each key so that the object has no duplicate keys.
		seen := map[string]bool{}
		var inner []string
		for _, f := range members["data"] {
			k := f[:strings.Index(f, ":")]
			if !seen[k] {
				seen[k] = true
				inner = append(inner, f)
			}
		}
		top = append(top, `"data":{`+strings.Join(inner, ",")+"}")
	}
	if depth < 2 && g.r.IntN(4) == 0 {
		alts := []string{g.pattern(depth + 1), g.pattern(depth + 1)}
		top = append(top, `"$or":[`+strings.Join(alts, ",")+"]")
	}
	return "{" + strings.Join(top, ",") + "}"
}

// values is a field's array: 1-3 exact values or operators.
func (g *ruleGen) values() string {
	n := 1 + g.r.IntN(3)
	vs := make([]string, n)
	for i := range vs {
		vs[i] = g.value()
	}
	return "[" + strings.Join(vs, ",") + "]"
}

func (g *ruleGen) value() string {
	switch g.r.IntN(17) {
	case 0:
		return g.pick(genNumbers)
	case 1:
		return g.pick([]string{"true", "false", "null"})
	case 2:
		return `{"prefix":` + g.str() + `}`
	case 3:
		return `{"suffix":` + g.str() + `}`
	case 4:
		return `{"equals-ignore-case":` + g.str() + `}`
	case 5:
		return `{"prefix":{"equals-ignore-case":` + g.str() + `}}`
	case 6:
		return `{"suffix":{"equals-ignore-case":` + g.str() + `}}`
	case 7:
		return `{"wildcard":` + quoteJSON(g.pick([]string{"a*", "*b", "a*c", "*", "a\\*c", "*a*"})) + `}`
	case 8:
		return `{"exists":` + g.pick([]string{"true", "false"}) + `}`
	case 9:
		return `{"anything-but":` + g.pick([]string{g.str(), g.pick(genNumbers), `[` + g.str() + `,` + g.str() + `]`, `[1,3]`}) + `}`
	case 10:
		return `{"anything-but":{` + g.pick([]string{`"prefix":`, `"suffix":`, `"equals-ignore-case":`}) + g.str() + `}}`
	case 11:
		return `{"anything-but":{"wildcard":` + g.pick([]string{`"a*"`, `["*b","A*"]`}) + `}}`
	case 12:
		return `{"numeric":` + g.pick([]string{`["=",3]`, `[">",0]`, `[">=",1.5,"<",3]`, `["<=",-2]`, `[">",0,"<=",0.000001]`, `["<",5000000000]`}) + `}`
	case 13:
		return `{"cidr":` + g.pick([]string{`"10.0.0.0/8"`, `"10.0.0.0/24"`, `"2001:db8::/32"`}) + `}`
	default:
		return g.str()
	}
}

func (g *ruleGen) filter(depth int) string {
	attr := g.pick([]string{"type", "source", "subject", "x"})
	switch n := g.r.IntN(6); {
	case n == 3 && depth < 2:
		return `{"all":[` + g.filter(depth+1) + `,` + g.filter(depth+1) + `]}`
	case n == 4 && depth < 2:
		return `{"any":[` + g.filter(depth+1) + `,` + g.filter(depth+1) + `]}`
	case n == 5 && depth < 2:
		return `{"not":` + g.filter(depth+1) + `}`
	default:
		dialect := g.pick([]string{"exact", "prefix", "suffix"})
		v := g.pick(genStrings[1:]) // filter values may not be empty
		return `{"` + dialect + `":{"` + attr + `":` + quoteJSON(v) + `}}`
	}
}

// event builds a JSON event whose fields are often, but not always, set.
func (g *ruleGen) event() []byte {
	var members []string
	for _, name := range []string{"type", "source", "subject"} {
		if g.r.IntN(4) > 0 {
			members = append(members, quoteJSON(name)+":"+g.str())
		}
	}
	if g.r.IntN(3) > 0 {
		members = append(members, `"x":`+g.eventValue(1))
	}
	switch g.r.IntN(8) {
	case 0: // no data
	case 1:
		members = append(members, `"data_base64":"AAE="`)
	default:
		members = append(members, `"data":`+g.data())
	}
	return []byte("{" + strings.Join(members, ",") + "}")
}

func (g *ruleGen) data() string {
	var members []string
	for _, k := range []string{"a", "b", "list"} {
		if g.r.IntN(3) > 0 {
			members = append(members, quoteJSON(k)+":"+g.eventValue(2))
		}
	}
	if g.r.IntN(2) == 0 {
		n := `{"m":` + g.eventValue(1) + `}`
		if g.r.IntN(3) == 0 {
			n = `[` + n + `,{"m":` + g.eventValue(1) + `}]`
		}
		members = append(members, `"n":`+n)
	}
	return "{" + strings.Join(members, ",") + "}"
}

// eventValue is a scalar, an array, or with depth left an object.
func (g *ruleGen) eventValue(depth int) string {
	switch g.r.IntN(9) {
	case 0:
		return g.pick(genNumbers)
	case 1:
		return g.pick([]string{"true", "false", "null"})
	case 2:
		return "[" + g.str() + "," + g.pick(genNumbers) + "]"
	case 3:
		return "[]"
	case 4:
		if depth > 0 {
			return `{"m":` + g.eventValue(depth-1) + `}`
		}
		return g.str()
	default:
		return g.str()
	}
}
