package schema

import (
	"encoding/json"
	"maps"
	"slices"
	"sync"
)

// Bounds of what an Inferrer remembers, so that traffic cannot grow it
// without limit: types per bus, properties per object, and nesting depth.
// What lies past them is counted, not described.
const (
	MaxInferredTypes = 1000
	maxProperties    = 100
	maxDepth         = 8
)

// Inferrer learns the shape of each event type's data from the events it
// is shown, and writes it as a JSON Schema. It is safe for concurrent use.
type Inferrer struct {
	mu    sync.Mutex
	types map[string]*observed
	// untracked counts the events of types past MaxInferredTypes.
	untracked int64
}

type observed struct {
	events, violations int64
	shape              node
}

// node is what was seen at one place in the data.
type node struct {
	kinds   map[string]bool // JSON Schema type names
	objects int64           // how many objects were seen here
	props   map[string]*propNode
	items   *node
	// truncated: an object here had more properties than are described.
	truncated bool
}

type propNode struct {
	seen int64 // in how many of the objects
	node node
}

// NewInferrer returns an Inferrer that has seen nothing.
func NewInferrer() *Inferrer { return &Inferrer{types: map[string]*observed{}} }

// Observe adds one event of typ with decoded data (as Decode returns it);
// invalid says whether it broke its type's schema.
func (in *Inferrer) Observe(typ string, data any, invalid bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	o := in.types[typ]
	if o == nil {
		if len(in.types) >= MaxInferredTypes {
			in.untracked++
			return
		}
		o = &observed{}
		in.types[typ] = o
	}
	o.events++
	if invalid {
		o.violations++
	}
	o.shape.add(data, 0)
}

func (n *node) add(v any, depth int) {
	if n.kinds == nil {
		n.kinds = map[string]bool{}
	}
	n.kinds[kindOf(v)] = true
	if depth >= maxDepth {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		n.objects++
		if n.props == nil {
			n.props = map[string]*propNode{}
		}
		for k, pv := range v {
			p := n.props[k]
			if p == nil {
				if len(n.props) >= maxProperties {
					n.truncated = true
					continue
				}
				p = &propNode{}
				n.props[k] = p
			}
			p.seen++
			p.node.add(pv, depth+1)
		}
	case []any:
		if n.items == nil {
			n.items = &node{}
		}
		for _, item := range v {
			n.items.add(item, depth+1)
		}
	}
}

func kindOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case float64, float32:
		return "number"
	case int, int64, int32:
		return "integer"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}

// Inferred is what an Inferrer learnt about one type.
type Inferred struct {
	Type string `json:"type"`
	// Events is how many events of the type were seen; Violations how
	// many of them broke the type's schema.
	Events     int64 `json:"events"`
	Violations int64 `json:"violations"`
	// Schema describes every event seen: a property is required when
	// every object had it.
	Schema map[string]any `json:"schema"`
}

// Inferred returns what was learnt of every type, sorted by type, and how
// many events were of types past MaxInferredTypes.
func (in *Inferrer) Inferred() (types []Inferred, untracked int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, typ := range slices.Sorted(maps.Keys(in.types)) {
		o := in.types[typ]
		s := o.shape.schema()
		s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
		types = append(types, Inferred{Type: typ, Events: o.events, Violations: o.violations, Schema: s})
	}
	return types, in.untracked
}

func (n *node) schema() map[string]any {
	s := map[string]any{}
	kinds := slices.Sorted(maps.Keys(n.kinds))
	if n.kinds["integer"] && n.kinds["number"] {
		kinds = slices.DeleteFunc(kinds, func(k string) bool { return k == "integer" })
	}
	switch len(kinds) {
	case 0:
	case 1:
		s["type"] = kinds[0]
	default:
		s["type"] = kinds
	}
	if len(n.props) > 0 {
		props := map[string]any{}
		var required []string
		for name, p := range n.props {
			props[name] = p.node.schema()
			if p.seen == n.objects {
				required = append(required, name)
			}
		}
		s["properties"] = props
		if len(required) > 0 {
			slices.Sort(required)
			s["required"] = required
		}
	}
	if n.truncated {
		s["x-eventbus-truncated"] = true // more properties were seen than are listed
	}
	if n.items != nil && len(n.items.kinds) > 0 {
		s["items"] = n.items.schema()
	}
	return s
}
