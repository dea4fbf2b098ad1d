package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Bus is a named bus: routes belong to one, and producers emit to one.
type Bus struct {
	Name string `json:"name"`
	// Backend is the backend URL of the bus's routes that name none.
	Backend string `json:"backend,omitempty"`
	// ACL says which groups may use the bus when the bus has
	// authentication on; nil leaves it to the bus's auth.admins. Only
	// admins may change it.
	ACL *ACL `json:"acl,omitempty"`
	// Archive says how long the bus keeps the events it accepted, for
	// replays; nil means the bus's defaults (24h or 1 GiB).
	Archive *Archive `json:"archive,omitempty"`
	// Schemas is what ingress does with an event whose data breaks its
	// type's schema: "enforce", "warn" or "off" (empty: off).
	Schemas string `json:"schemas,omitempty"`
	// Version and Origin are set by the bus, as for Route.
	Version int64  `json:"version,omitempty"`
	Origin  string `json:"origin,omitempty"`
}

// ACL lists the groups allowed each action on a bus (docs/security.md).
type ACL struct {
	Emit    []EmitGrant `json:"emit,omitempty"`
	Manage  []string    `json:"manage,omitempty"`
	Read    []string    `json:"read,omitempty"`
	Redrive []string    `json:"redrive,omitempty"`
}

// EmitGrant lets groups emit, only events whose type and source match one
// of the patterns when they are set ('*' matches any run of characters).
type EmitGrant struct {
	Groups  []string `json:"groups"`
	Types   []string `json:"types,omitempty"`
	Sources []string `json:"sources,omitempty"`
}

// UnmarshalJSON reads a grant as the bus writes it: a bare group name for
// a grant without patterns, else an object.
func (g *EmitGrant) UnmarshalJSON(b []byte) error {
	var group string
	if err := json.Unmarshal(b, &group); err == nil {
		*g = EmitGrant{Groups: []string{group}}
		return nil
	}
	type plain EmitGrant
	return json.Unmarshal(b, (*plain)(g))
}

// ListBuses returns every bus, sorted by name.
func (c *Client) ListBuses(ctx context.Context) ([]Bus, error) {
	var out struct {
		Buses []Bus `json:"buses"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/buses", "", nil, &out)
	return out.Buses, err
}

// GetBus returns one bus; a missing one is an *Error with Status 404.
func (c *Client) GetBus(ctx context.Context, name string) (Bus, error) {
	var out Bus
	_, err := c.do(ctx, http.MethodGet, "/v1/buses/"+url.PathEscape(name), "", nil, &out)
	return out, err
}

// PutBus creates or updates the bus b.Name. With b.Version set, the write
// succeeds only if the stored bus still has that version (else 409).
func (c *Client) PutBus(ctx context.Context, b Bus) (Bus, error) {
	body, err := json.Marshal(b)
	if err != nil {
		return Bus{}, err
	}
	var out Bus
	_, err = c.do(ctx, http.MethodPut, "/v1/buses/"+url.PathEscape(b.Name), "application/json", body, &out)
	return out, err
}

// CreateBus creates the bus b.Name and returns it as saved, but never
// updates one: if the bus process already has a bus of that name, nothing
// changes and the error is an *Error with Status 409 (IsConflict). The
// check and the write are one request (If-None-Match: *). The bus
// "default" always exists but counts as created only once someone sets it:
// while its origin is "builtin", CreateBus sets it. b.Version is ignored.
func (c *Client) CreateBus(ctx context.Context, b Bus) (Bus, error) {
	b.Version = 0
	body, err := json.Marshal(b)
	if err != nil {
		return Bus{}, err
	}
	var out Bus
	_, err = c.send(ctx, http.MethodPut, "/v1/buses/"+url.PathEscape(b.Name), http.Header{"If-None-Match": {"*"}}, "application/json", body, &out)
	return out, err
}

// DeleteBus removes a bus that has no routes left (else 409). Deleting the
// bus "default" resets it: it goes back to the bus process's default
// backend, with origin "builtin".
func (c *Client) DeleteBus(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/buses/"+url.PathEscape(name), "", nil, nil)
	return err
}

// Archive bounds a bus's archive: the oldest events go once either limit
// is passed (zero: the bus's default). Off is written as "off".
type Archive struct {
	Off      bool   `json:"-"`
	MaxAge   string `json:"max_age,omitempty"` // a Go duration, such as "72h"
	MaxBytes int64  `json:"max_bytes,omitempty"`
}

type archiveFields Archive

// MarshalJSON writes "off" or the limits.
func (a Archive) MarshalJSON() ([]byte, error) {
	if a.Off {
		return json.Marshal("off")
	}
	return json.Marshal(archiveFields(a))
}

// UnmarshalJSON reads "off" or the limits.
func (a *Archive) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s != "off" {
			return fmt.Errorf("archive: %q is not \"off\" or an object of limits", s)
		}
		*a = Archive{Off: true}
		return nil
	}
	var f archiveFields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*a = Archive(f)
	return nil
}
