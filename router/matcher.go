package router

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Matcher holds the compiled rules of one bus. It is immutable and safe for
// concurrent use; when routes change, the bus compiles a new Matcher and
// swaps it in.
//
// Compilation turns every rule into clauses (one per $or combination) of
// field tests, shares identical field tests between routes, and indexes them
// by the path they read. Matching has two phases. First it walks only the
// parts of the event that some rule reads; each value found looks up the
// tests it passes (a hash lookup for exact values, a radix tree for prefixes
// and suffixes) and marks them. Then, for each marked test, it checks the
// clauses anchored on it: every clause is anchored on its most selective
// test (the one fewest clauses share), so a test that a thousand routes
// share, such as a common region, wakes none of them unless their own type
// or source also holds. The cost per event therefore grows with the values
// read and the distinct tests they pass, not with the number of routes.
type Matcher struct {
	names   []string    // route names in sorted order; rule i is names[i]
	filters [][]*filter // by rule; evaluated once a clause of the rule holds
	root    *pathNode   // the fields that some rule reads
	paths   []pathIndex // by path id
	fields  []compiledField
	clauses []compiledClause
	// always are the clauses without field tests: rules with an empty
	// pattern.
	always []int32
	// absentPaths are the paths with an exists:false test, checked after
	// the walk for having no value.
	absentPaths []int32

	states sync.Pool // of *matchState
}

// pathNode is one field name in the tree of fields that rules read.
type pathNode struct {
	children []pathChild
	id       int32 // index into Matcher.paths, or -1 when no test reads values here
}

type pathChild struct {
	name string
	node *pathNode
}

// pathIndex finds the field tests that one value at a path passes.
type pathIndex struct {
	exactString map[string][]int32
	exactNumber map[float64][]int32
	exactTrue   []int32
	exactFalse  []int32
	exactNull   []int32
	prefixes    affixTree
	suffixes    affixTree // fromEnd
	// The case-insensitive tests, keyed by their case-folded operand.
	equalsFold map[string][]int32
	prefixFold affixTree
	suffixFold affixTree // fromEnd
	anyValue   []int32   // exists: true
	absent     []int32   // exists: false
	// scan holds the tests that no index serves (anything-but, numeric,
	// wildcard, cidr): each value at the path is checked against each.
	scan []scannedTest
}

type scannedTest struct {
	id   int32
	test *valueTest
}

func (idx *pathIndex) hasFoldTests() bool {
	return idx.equalsFold != nil || !idx.prefixFold.empty() || !idx.suffixFold.empty()
}

type compiledField struct {
	clauses  int32   // how many clauses contain this test, while compiling
	anchored []int32 // the clauses to check when this test holds
}

type compiledClause struct {
	rule  int32
	tests []int32 // distinct field test ids, all of which must hold
}

// matchState is the scratch space of one Match call. Marks are generation
// numbers rather than booleans so that starting a new match is O(1).
type matchState struct {
	gen       uint32
	fieldMark []uint32 // field test id -> gen when it held
	held      []int32  // the field tests that held, in the order found
	pathMark  []uint32 // path id -> gen when a value was found there
	ruleMark  []uint32 // rule id -> gen when it was decided
	matched   []int32  // rule ids
	event     *Event   // the event being matched, for filters
}

// NewMatcher validates and compiles the rules of one bus, keyed by route
// name. An invalid rule fails the whole compilation with an error that
// names its route.
func NewMatcher(rules map[string]Rule, lim Limits) (*Matcher, error) {
	names := make([]string, 0, len(rules))
	for name := range rules {
		names = append(names, name)
	}
	slices.Sort(names)
	m := &Matcher{names: names, root: &pathNode{id: -1}}
	fieldIDs := map[string]int32{}
	for ruleID, name := range names {
		pr, err := parseRule(rules[name], lim)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", name, err)
		}
		m.filters = append(m.filters, pr.filters)
		required := indexableTests(pr.filters)
		for _, clause := range pr.clauses {
			m.addClause(int32(ruleID), append(clause[:len(clause):len(clause)], required...), fieldIDs)
		}
	}
	m.anchorClauses()
	m.states.New = func() any {
		return &matchState{
			fieldMark: make([]uint32, len(m.fields)),
			pathMark:  make([]uint32, len(m.paths)),
			ruleMark:  make([]uint32, len(m.names)),
		}
	}
	return m, nil
}

// anchorClauses anchors every clause on its most selective test: the one
// that the fewest clauses contain. Tests that hold when a field is absent
// make poor anchors, since most events lack most fields; they anchor a
// clause only when it has no other test.
func (m *Matcher) anchorClauses() {
	isAbsent := make([]bool, len(m.fields))
	for _, p := range m.paths {
		for _, id := range p.absent {
			isAbsent[id] = true
		}
	}
	cost := func(id int32) int64 {
		c := int64(m.fields[id].clauses)
		if isAbsent[id] {
			c += 1 << 40
		}
		return c
	}
	for c, cl := range m.clauses {
		if len(cl.tests) == 0 {
			continue
		}
		anchor := cl.tests[0]
		for _, id := range cl.tests[1:] {
			if cost(id) < cost(anchor) {
				anchor = id
			}
		}
		m.fields[anchor].anchored = append(m.fields[anchor].anchored, int32(c))
	}
}

func (m *Matcher) addClause(ruleID int32, tests []*fieldTest, fieldIDs map[string]int32) {
	clauseID := int32(len(m.clauses))
	var ids []int32
	for _, ft := range tests {
		id := m.fieldID(ft, fieldIDs)
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		m.fields[id].clauses++
	}
	m.clauses = append(m.clauses, compiledClause{rule: ruleID, tests: ids})
	if len(ids) == 0 {
		m.always = append(m.always, clauseID)
	}
}

// fieldID returns the id of a field test, indexing it on first sight.
// Identical tests of different routes share one id, so that a thousand
// routes on type "order.created" cost one lookup.
func (m *Matcher) fieldID(ft *fieldTest, fieldIDs map[string]int32) int32 {
	key := fmt.Sprintf("%s\x00%t\x00%s", strings.Join(ft.path, "\x00"), ft.absentOK, ft.text)
	if id, ok := fieldIDs[key]; ok {
		return id
	}
	id := int32(len(m.fields))
	fieldIDs[key] = id
	m.fields = append(m.fields, compiledField{})
	pathID := m.pathID(ft.path)
	idx := &m.paths[pathID]
	for i, t := range ft.tests {
		switch t.op {
		case opExactString:
			if idx.exactString == nil {
				idx.exactString = map[string][]int32{}
			}
			idx.exactString[t.str] = append(idx.exactString[t.str], id)
		case opExactNumber:
			if idx.exactNumber == nil {
				idx.exactNumber = map[float64][]int32{}
			}
			idx.exactNumber[t.num] = append(idx.exactNumber[t.num], id)
		case opExactBool:
			if t.b {
				idx.exactTrue = append(idx.exactTrue, id)
			} else {
				idx.exactFalse = append(idx.exactFalse, id)
			}
		case opExactNull:
			idx.exactNull = append(idx.exactNull, id)
		case opPrefix:
			idx.prefixes.add(t.str, id)
		case opSuffix:
			idx.suffixes.add(t.str, id)
		case opEqualsFold:
			if idx.equalsFold == nil {
				idx.equalsFold = map[string][]int32{}
			}
			idx.equalsFold[t.str] = append(idx.equalsFold[t.str], id)
		case opPrefixFold:
			idx.prefixFold.add(t.str, id)
		case opSuffixFold:
			idx.suffixFold.add(t.str, id)
		case opAnythingBut, opNumeric, opWildcard, opCIDR:
			idx.scan = append(idx.scan, scannedTest{id: id, test: &ft.tests[i]})
		case opExists:
			idx.anyValue = append(idx.anyValue, id)
		}
	}
	if ft.absentOK {
		if len(idx.absent) == 0 {
			m.absentPaths = append(m.absentPaths, pathID)
		}
		idx.absent = append(idx.absent, id)
	}
	return id
}

// pathID returns the id of a field path, adding it to the tree of read
// fields on first sight.
func (m *Matcher) pathID(path []string) int32 {
	n := m.root
	for _, name := range path {
		var next *pathNode
		for _, c := range n.children {
			if c.name == name {
				next = c.node
				break
			}
		}
		if next == nil {
			next = &pathNode{id: -1}
			n.children = append(n.children, pathChild{name: name, node: next})
		}
		n = next
	}
	if n.id < 0 {
		n.id = int32(len(m.paths))
		m.paths = append(m.paths, pathIndex{suffixes: affixTree{fromEnd: true}, suffixFold: affixTree{fromEnd: true}})
	}
	return n.id
}

// Match returns the names of the routes whose rules select e, sorted, or
// nil when none does. The caller must not modify the slice: one route's
// name alone is the matcher's own, shared by every event that matches only
// that route, so that those who keep it (the bus's dedup, for its window)
// keep no object per event. It does no I/O and starts no goroutines.
func (m *Matcher) Match(e *Event) []string {
	st := m.states.Get().(*matchState)
	defer m.states.Put(st)
	st.gen++
	if st.gen == 0 { // wrapped: old marks could collide with new generations
		clear(st.fieldMark)
		clear(st.pathMark)
		clear(st.ruleMark)
		st.gen = 1
	}
	st.matched = st.matched[:0]
	st.held = st.held[:0]
	st.event = e
	defer func() { st.event = nil }() // let the pool not keep events alive

	for _, c := range m.root.children {
		if s, ok, known := e.stringAttr(c.name); known {
			if ok && c.node.id >= 0 {
				m.leafString(st, c.node.id, s)
			}
		} else if v, ok := e.value(c.name); ok {
			m.visit(st, c.node, v)
		}
	}
	for _, p := range m.absentPaths {
		if st.pathMark[p] != st.gen {
			m.hitAll(st, m.paths[p].absent)
		}
	}
	for _, id := range st.held {
		for _, c := range m.fields[id].anchored {
			if m.clauseTestsHold(st, c) {
				m.clauseHolds(st, c)
			}
		}
	}
	for _, c := range m.always {
		m.clauseHolds(st, c)
	}
	if len(st.matched) == 0 {
		return nil
	}
	if len(st.matched) == 1 {
		r := st.matched[0]
		return m.names[r : r+1 : r+1] // capped: an append copies
	}
	slices.Sort(st.matched)
	out := make([]string, len(st.matched))
	for i, r := range st.matched {
		out[i] = m.names[r]
	}
	return out
}

// visit follows the read fields into one event value. Arrays are flattened:
// each element is visited as if it were the value itself.
func (m *Matcher) visit(st *matchState, n *pathNode, v any) {
	switch v := v.(type) {
	case map[string]any:
		for _, c := range n.children {
			if cv, ok := v[c.name]; ok {
				m.visit(st, c.node, cv)
			}
		}
	case []any:
		for _, elem := range v {
			m.visit(st, n, elem)
		}
	default:
		if n.id >= 0 {
			m.leaf(st, n.id, v)
		}
	}
}

// leaf finds the field tests that value v at path id passes.
func (m *Matcher) leaf(st *matchState, id int32, v any) {
	if s, ok := v.(string); ok {
		m.leafString(st, id, s)
		return
	}
	st.pathMark[id] = st.gen
	idx := &m.paths[id]
	m.hitAll(st, idx.anyValue)
	switch v := v.(type) {
	case float64:
		m.hitAll(st, idx.exactNumber[normalizeZero(v)])
	case bool:
		if v {
			m.hitAll(st, idx.exactTrue)
		} else {
			m.hitAll(st, idx.exactFalse)
		}
	case nil:
		m.hitAll(st, idx.exactNull)
	}
	m.scan(st, idx, v)
}

// leafString is leaf for a string, which it boxes only for the tests that
// scan.
func (m *Matcher) leafString(st *matchState, id int32, v string) {
	st.pathMark[id] = st.gen
	idx := &m.paths[id]
	m.hitAll(st, idx.anyValue)
	hit := func(ids []int32) { m.hitAll(st, ids) }
	m.hitAll(st, idx.exactString[v])
	idx.prefixes.each(v, hit)
	idx.suffixes.each(v, hit)
	if idx.hasFoldTests() {
		f := foldCase(v)
		m.hitAll(st, idx.equalsFold[f])
		idx.prefixFold.each(f, hit)
		idx.suffixFold.each(f, hit)
	}
	if len(idx.scan) > 0 {
		m.scan(st, idx, v)
	}
}

// scan runs the tests at idx that are not indexed by value on v.
func (m *Matcher) scan(st *matchState, idx *pathIndex, v any) {
	for _, sc := range idx.scan {
		if st.fieldMark[sc.id] != st.gen && sc.test.matches(v) {
			m.hit(st, sc.id)
		}
	}
}

// hitAll records that the field tests ids hold for this event.
func (m *Matcher) hitAll(st *matchState, ids []int32) {
	for _, id := range ids {
		m.hit(st, id)
	}
}

// hit records that field test id holds for this event.
func (m *Matcher) hit(st *matchState, id int32) {
	if st.fieldMark[id] == st.gen {
		return // already held through another value
	}
	st.fieldMark[id] = st.gen
	st.held = append(st.held, id)
}

// clauseTestsHold reports whether every test of clause c held.
func (m *Matcher) clauseTestsHold(st *matchState, c int32) bool {
	for _, id := range m.clauses[c].tests {
		if st.fieldMark[id] != st.gen {
			return false
		}
	}
	return true
}

// clauseHolds selects the rule of a clause whose every test held, if the
// rule's filters hold too. A rule is decided once per event, whichever of
// its clauses holds first.
func (m *Matcher) clauseHolds(st *matchState, c int32) {
	r := m.clauses[c].rule
	if st.ruleMark[r] == st.gen {
		return
	}
	st.ruleMark[r] = st.gen
	for _, f := range m.filters[r] {
		if ok, _ := f.holds(st.event); !ok {
			return
		}
	}
	st.matched = append(st.matched, r)
}
