package router

import "slices"

// prefixTable finds the prefixes that a string starts with by hashing: one
// map lookup per distinct prefix length, so its cost depends on how many
// lengths the rules use, not on how many prefixes they list.
type prefixTable struct {
	byPrefix map[string][]int32
	lengths  []int // distinct prefix lengths, ascending
}

func (t *prefixTable) add(prefix string, id int32) {
	if t.byPrefix == nil {
		t.byPrefix = map[string][]int32{}
	}
	if _, ok := t.byPrefix[prefix]; !ok {
		if i, found := slices.BinarySearch(t.lengths, len(prefix)); !found {
			t.lengths = slices.Insert(t.lengths, i, len(prefix))
		}
	}
	t.byPrefix[prefix] = append(t.byPrefix[prefix], id)
}

// each calls fn with the ids of every prefix that s starts with.
func (t *prefixTable) each(s string, fn func(ids []int32)) {
	for _, n := range t.lengths {
		if n > len(s) {
			return
		}
		if ids, ok := t.byPrefix[s[:n]]; ok {
			fn(ids)
		}
	}
}
