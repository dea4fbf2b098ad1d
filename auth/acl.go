package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/eventbus-go/eventbus/spec"
)

// Action is a right on a bus.
type Action string

// The actions an ACL grants.
const (
	// Emit: send events to the bus.
	Emit Action = "emit"
	// Manage: create, change and delete the bus's routes (and tail it).
	Manage Action = "manage"
	// Read: see the bus, its routes, their stats and dead letters.
	Read Action = "read"
	// Redrive: put a route's dead letters back for delivery.
	Redrive Action = "redrive"
)

// AnyGroup in a grant stands for every authenticated caller.
const AnyGroup = "*"

// ACL lists the groups allowed each action on one bus. Empty lists allow
// nobody but the admins of the Policy.
type ACL struct {
	Emit    []Grant  `json:"emit,omitempty"`
	Manage  []string `json:"manage,omitempty"`
	Read    []string `json:"read,omitempty"`
	Redrive []string `json:"redrive,omitempty"`
}

// Grant allows groups to emit, optionally only events whose type and
// source match one of the patterns ('*' matches any run of characters).
// In JSON and YAML a grant without patterns may be written as the bare
// group name: emit: [shop, {groups: [partners], types: ["order.*"]}].
type Grant struct {
	Groups  []string `json:"groups"`
	Types   []string `json:"types,omitempty"`
	Sources []string `json:"sources,omitempty"`
}

// UnmarshalJSON reads a grant from a group name or an object.
func (g *Grant) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '"' {
		var group string
		if err := json.Unmarshal(b, &group); err != nil {
			return err
		}
		*g = Grant{Groups: []string{group}}
		return nil
	}
	type plain Grant // without this method
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p plain
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("an emit grant is a group name or {groups, types, sources}: %w", err)
	}
	*g = Grant(p)
	return nil
}

// MarshalJSON writes a grant of one group and no patterns as the group
// name, so an ACL reads back as it was written.
func (g Grant) MarshalJSON() ([]byte, error) {
	if len(g.Groups) == 1 && len(g.Types) == 0 && len(g.Sources) == 0 {
		return json.Marshal(g.Groups[0])
	}
	type plain Grant
	return json.Marshal(plain(g))
}

// Validate checks that every group is named and every pattern is usable.
func (a *ACL) Validate() error {
	var errs []error
	groups := func(path string, gs []string) {
		if len(gs) == 0 {
			errs = append(errs, &spec.FieldError{Path: path, Message: "names no group: list one or more groups, or \"*\" for any caller"})
		}
		for i, g := range gs {
			if strings.TrimSpace(g) == "" {
				errs = append(errs, &spec.FieldError{Path: fmt.Sprintf("%s[%d]", path, i), Message: "is empty: name a group"})
			}
		}
	}
	for i, g := range a.Emit {
		groups(fmt.Sprintf("emit[%d].groups", i), g.Groups)
		for j, p := range g.Types {
			if p == "" {
				errs = append(errs, &spec.FieldError{Path: fmt.Sprintf("emit[%d].types[%d]", i, j), Message: "is empty: a type or a pattern such as order.*"})
			}
		}
		for j, p := range g.Sources {
			if p == "" {
				errs = append(errs, &spec.FieldError{Path: fmt.Sprintf("emit[%d].sources[%d]", i, j), Message: "is empty: a source or a pattern such as web/*"})
			}
		}
	}
	for _, list := range []struct {
		path   string
		groups []string
	}{{"manage", a.Manage}, {"read", a.Read}, {"redrive", a.Redrive}} {
		for i, g := range list.groups {
			if strings.TrimSpace(g) == "" {
				errs = append(errs, &spec.FieldError{Path: fmt.Sprintf("%s[%d]", list.path, i), Message: "is empty: name a group"})
			}
		}
	}
	return errors.Join(errs...)
}

// Identity is an authenticated caller.
type Identity struct {
	// Kind is "key" for an API key, "token" for a JWT, "certificate" for
	// a TLS client certificate.
	Kind string
	// Name is the key's name or the token's subject.
	Name   string
	Groups []string
}

// String names the caller in messages: key "shop-web".
func (id *Identity) String() string { return fmt.Sprintf("%s %q", id.Kind, id.Name) }

// Policy is the process-wide part of authorization.
type Policy struct {
	// Admins are the groups that may do anything: every action on every
	// bus, creating and deleting buses, changing ACLs, managing keys.
	Admins []string
}

// Denied is a refusal: the caller is known but lacks the right.
type Denied struct {
	Who    string // key "shop-web"
	Action string // manage
	Object string // bus "shop"
	Reason string
}

func (e *Denied) Error() string {
	return fmt.Sprintf("%s may not %s %s: %s", e.Who, e.Action, e.Object, e.Reason)
}

// IsAdmin reports whether id belongs to one of the admin groups.
func (p Policy) IsAdmin(id *Identity) bool { return inAny(id.Groups, p.Admins) }

// AllowAdmin lets only admins do what: "manage keys", "create bus \"x\"".
func (p Policy) AllowAdmin(id *Identity, action, object string) error {
	if p.IsAdmin(id) {
		return nil
	}
	return &Denied{Who: id.String(), Action: action, Object: object,
		Reason: fmt.Sprintf("that is for auth.admins %s; %s", groupList(p.Admins), memberOf(id))}
}

// Allow decides whether id may take action on bus, whose ACL is acl (nil
// when the bus has none). For Emit, it allows a caller any of whose grants
// applies; AllowEvent then checks each event against the grants' patterns.
func (p Policy) Allow(id *Identity, bus string, acl *ACL, action Action) error {
	if p.IsAdmin(id) {
		return nil
	}
	if acl == nil {
		return p.denied(id, bus, action, fmt.Sprintf("the bus has no acl, so it is for auth.admins %s only; %s", groupList(p.Admins), memberOf(id)))
	}
	var allowed []string
	switch action {
	case Emit:
		for _, g := range acl.Emit {
			if inAny(id.Groups, g.Groups) {
				return nil
			}
			allowed = append(allowed, g.Groups...)
		}
	case Manage:
		allowed = acl.Manage
	case Read:
		allowed = acl.Read
	case Redrive:
		allowed = acl.Redrive
	}
	if inAny(id.Groups, allowed) {
		return nil
	}
	return p.denied(id, bus, action, fmt.Sprintf("acl.%s allows groups %s; %s", action, groupList(allowed), memberOf(id)))
}

// AllowEvent decides whether id may emit an event of type typ from source
// to bus: some grant of acl that applies to id must match both. It does
// not allocate unless it refuses.
func (p Policy) AllowEvent(id *Identity, bus string, acl *ACL, typ, source string) error {
	if p.IsAdmin(id) {
		return nil
	}
	if acl != nil {
		for _, g := range acl.Emit {
			if inAny(id.Groups, g.Groups) && matchesAny(g.Types, typ) && matchesAny(g.Sources, source) {
				return nil
			}
		}
	}
	if err := p.Allow(id, bus, acl, Emit); err != nil {
		return err
	}
	var types, sources []string
	for _, g := range acl.Emit {
		if inAny(id.Groups, g.Groups) {
			types = append(types, orAny(g.Types)...)
			sources = append(sources, orAny(g.Sources)...)
		}
	}
	return &Denied{Who: id.String(), Action: "emit", Object: fmt.Sprintf("an event of type %q from source %q to bus %q", typ, source, bus),
		Reason: fmt.Sprintf("its groups may emit only types %s from sources %s", groupList(types), groupList(sources))}
}

func (p Policy) denied(id *Identity, bus string, action Action, reason string) error {
	object := fmt.Sprintf("bus %q", bus)
	if action == Emit {
		object = "to " + object
	}
	return &Denied{Who: id.String(), Action: string(action), Object: object, Reason: reason}
}

// inAny reports whether one of groups is among allowed, or allowed holds
// AnyGroup.
func inAny(groups, allowed []string) bool {
	for _, a := range allowed {
		if a == AnyGroup || slices.Contains(groups, a) {
			return true
		}
	}
	return false
}

// matchesAny reports whether s matches one of patterns; no patterns match
// everything.
func matchesAny(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if Match(p, s) {
			return true
		}
	}
	return false
}

// Match reports whether s matches pattern, in which '*' stands for any run
// of characters (none included) and every other character for itself.
func Match(pattern, s string) bool {
	// The classic greedy wildcard match: linear in len(pattern)+len(s) per
	// star, no allocation, no recursion.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p, mark = star+1, mark+1
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func orAny(patterns []string) []string {
	if len(patterns) == 0 {
		return []string{"*"}
	}
	return patterns
}

func groupList(groups []string) string {
	if len(groups) == 0 {
		return "[] (none)"
	}
	return "[" + strings.Join(groups, ", ") + "]"
}

func memberOf(id *Identity) string {
	return fmt.Sprintf("%s is in groups %s", id, groupList(id.Groups))
}
