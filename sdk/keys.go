package sdk

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Key is an API key as the bus shows it: its name and groups, never the
// key itself.
type Key struct {
	Name    string    `json:"name"`
	Groups  []string  `json:"groups"`
	Created time.Time `json:"created,omitzero"`
	// Origin is "config" for keys of the bus's config file, "api" for keys
	// created through the API.
	Origin string `json:"origin,omitempty"`
}

// NewKey is a key just created. Secret is the key: the bus shows it this
// once and keeps only its hash.
type NewKey struct {
	Key
	Secret string `json:"key"`
}

// CreateKey creates an API key with groups. Only callers in the bus's
// auth.admins may.
func (c *Client) CreateKey(ctx context.Context, name string, groups []string) (NewKey, error) {
	body, err := json.Marshal(map[string]any{"name": name, "groups": groups})
	if err != nil {
		return NewKey{}, err
	}
	var out NewKey
	_, err = c.do(ctx, http.MethodPost, "/v1/keys", "application/json", body, &out)
	return out, err
}

// ListKeys lists the bus's API keys, by name.
func (c *Client) ListKeys(ctx context.Context) ([]Key, error) {
	var out struct {
		Keys []Key `json:"keys"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/keys", "", nil, &out)
	return out.Keys, err
}

// RevokeKey deletes an API key: the bus refuses it from then on.
func (c *Client) RevokeKey(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/keys/"+url.PathEscape(name), "", nil, nil)
	return err
}
