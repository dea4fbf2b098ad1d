package router

import "sort"

// affixTree finds every prefix, or with fromEnd every suffix, of a string
// among the operands of many tests, in one pass over the string whatever the
// number of operands. It is a radix tree: each edge holds a run of bytes, in
// walk order (reversed for suffixes).
type affixTree struct {
	fromEnd bool
	root    affixNode
}

type affixNode struct {
	label    string  // the bytes on the edge into this node
	ids      []int32 // tests whose operand ends at this node
	children []*affixNode
}

func (t *affixTree) empty() bool { return t.root.ids == nil && t.root.children == nil }

func (t *affixTree) add(operand string, id int32) {
	key := operand
	if t.fromEnd {
		key = reverse(operand)
	}
	n := &t.root
	for key != "" {
		i, found := n.child(key[0])
		if !found {
			n.children = append(n.children, nil)
			copy(n.children[i+1:], n.children[i:])
			n.children[i] = &affixNode{label: key, ids: []int32{id}}
			return
		}
		c := n.children[i]
		common := 0
		for common < len(c.label) && common < len(key) && c.label[common] == key[common] {
			common++
		}
		if common < len(c.label) {
			// The new operand leaves this edge part-way: split it.
			split := &affixNode{label: c.label[:common], children: []*affixNode{c}}
			c.label = c.label[common:]
			n.children[i] = split
			c = split
		}
		n, key = c, key[common:]
	}
	n.ids = append(n.ids, id)
}

// child finds the child whose edge starts with b, or where it would go.
func (n *affixNode) child(b byte) (int, bool) {
	i := sort.Search(len(n.children), func(i int) bool { return n.children[i].label[0] >= b })
	return i, i < len(n.children) && n.children[i].label[0] == b
}

// each calls fn with the ids of every operand that s starts (or ends) with.
func (t *affixTree) each(s string, fn func(ids []int32)) {
	n := &t.root
	at := func(k int) byte {
		if t.fromEnd {
			return s[len(s)-1-k]
		}
		return s[k]
	}
	pos := 0
	for {
		if len(n.ids) > 0 {
			fn(n.ids)
		}
		if pos == len(s) {
			return
		}
		i, found := n.child(at(pos))
		if !found {
			return
		}
		c := n.children[i]
		if len(c.label) > len(s)-pos {
			return
		}
		for j := 1; j < len(c.label); j++ {
			if at(pos+j) != c.label[j] {
				return
			}
		}
		pos += len(c.label)
		n = c
	}
}

func reverse(s string) string {
	b := make([]byte, len(s))
	for i := range len(s) {
		b[len(s)-1-i] = s[i]
	}
	return string(b)
}
