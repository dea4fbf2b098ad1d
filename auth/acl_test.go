package auth_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/eventbus-go/eventbus/auth"
)

// The ACL of the example, written exactly as its YAML shows.
const shopACL = `{emit: [shop, {groups: [partners], types: ["order.*"], sources: ["partner/*"]}], manage: [admins], read: [admins, support], redrive: [support]}`

func parseACL(t *testing.T, y string) *auth.ACL {
	t.Helper()
	var acl auth.ACL
	if err := yaml.UnmarshalStrict([]byte(y), &acl); err != nil {
		t.Fatalf("parsing ACL %s: %v", y, err)
	}
	return &acl
}

func TestAllowGrantsEachActionOnlyToItsGroups(t *testing.T) {
	acl := parseACL(t, shopACL)
	policy := auth.Policy{Admins: []string{"ops"}}
	shop := &auth.Identity{Kind: "key", Name: "shop-web", Groups: []string{"shop"}}
	support := &auth.Identity{Kind: "token", Name: "ann", Groups: []string{"support"}}
	ops := &auth.Identity{Kind: "key", Name: "ops", Groups: []string{"ops"}}
	partner := &auth.Identity{Kind: "key", Name: "acme", Groups: []string{"partners"}}
	cases := []struct {
		name   string
		id     *auth.Identity
		acl    *auth.ACL
		action auth.Action
		denied string // "" when allowed, else a part of the message
	}{
		{"a group in acl.emit emits", shop, acl, auth.Emit, ""},
		{"a narrowed emit grant still lets its group emit", partner, acl, auth.Emit, ""},
		{"emit does not imply manage", shop, acl, auth.Manage, `key "shop-web" may not manage bus "shop": acl.manage allows groups [admins]; key "shop-web" is in groups [shop]`},
		{"emit does not imply read", shop, acl, auth.Read, `may not read bus "shop"`},
		{"emit does not imply redrive", shop, acl, auth.Redrive, `may not redrive bus "shop"`},
		{"read is granted by acl.read", support, acl, auth.Read, ""},
		{"redrive is granted by acl.redrive", support, acl, auth.Redrive, ""},
		{"read does not imply emit", support, acl, auth.Emit, `token "ann" may not emit to bus "shop": acl.emit allows groups [shop, partners]`},
		{"admins may do anything", ops, acl, auth.Manage, ""},
		{"admins may use a bus without acl", ops, nil, auth.Emit, ""},
		{"a bus without acl is for admins only", shop, nil, auth.Emit, "the bus has no acl, so it is for auth.admins [ops] only"},
		{"the group * is any caller", shop, parseACL(t, `{read: ["*"]}`), auth.Read, ""},
		{"an empty list allows nobody", shop, parseACL(t, `{emit: [shop]}`), auth.Read, "acl.read allows groups [] (none)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := policy.Allow(tc.id, "shop", tc.acl, tc.action)
			checkDecision(t, err, tc.denied)
		})
	}
}

func TestAllowEventNarrowsEmitToTypesAndSources(t *testing.T) {
	acl := parseACL(t, shopACL)
	policy := auth.Policy{Admins: []string{"ops"}}
	shop := &auth.Identity{Kind: "key", Name: "shop-web", Groups: []string{"shop"}}
	partner := &auth.Identity{Kind: "key", Name: "acme", Groups: []string{"partners"}}
	cases := []struct {
		name        string
		id          *auth.Identity
		typ, source string
		denied      string
	}{
		{"an unnarrowed grant emits any type", shop, "user.signed_up", "web", ""},
		{"a type and source inside the patterns", partner, "order.created", "partner/acme", ""},
		{"a type outside the patterns", partner, "user.signed_up", "partner/acme", `key "acme" may not emit an event of type "user.signed_up" from source "partner/acme" to bus "shop": its groups may emit only types [order.*] from sources [partner/*]`},
		{"a source outside the patterns", partner, "order.created", "web", `from source "web"`},
		{"a prefix is not a match", partner, "order", "partner/acme", `type "order"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkDecision(t, policy.AllowEvent(tc.id, "shop", acl, tc.typ, tc.source), tc.denied)
		})
	}
}

func checkDecision(t *testing.T, err error, denied string) {
	t.Helper()
	if denied == "" {
		if err != nil {
			t.Fatalf("refused with %q; want allowed", err)
		}
		return
	}
	var d *auth.Denied
	if !errors.As(err, &d) {
		t.Fatalf("got %v; want a *auth.Denied saying %q", err, denied)
	}
	if !strings.Contains(err.Error(), denied) {
		t.Errorf("refusal %q does not say %q: the caller must learn which right is missing", err, denied)
	}
}

func TestMatchTreatsStarAsAnyRun(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"order.*", "order.created", true},
		{"order.*", "order.", true},
		{"order.*", "orders.created", false},
		{"*.created", "order.created", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"*", "", true},
	}
	for _, tc := range cases {
		if got := auth.Match(tc.pattern, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestACLReadsBackAsWritten(t *testing.T) {
	acl := parseACL(t, shopACL)
	b, err := json.Marshal(acl)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"emit":["shop",{"groups":["partners"],"types":["order.*"],"sources":["partner/*"]}],"manage":["admins"],"read":["admins","support"],"redrive":["support"]}`
	if string(b) != want {
		t.Errorf("ACL as JSON = %s\nwant %s: an API client reading a bus must see the grants it wrote", b, want)
	}
}

func TestACLValidateNamesTheBadField(t *testing.T) {
	err := parseACL(t, `{emit: [{groups: [], types: [""]}], read: [""]}`).Validate()
	for _, path := range []string{"emit[0].groups", "emit[0].types[0]", "read[0]"} {
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Validate() = %v; want it to name %s", err, path)
		}
	}
}
