package sdk

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Schema is one version of the JSON Schema (draft 2020-12) of an event
// type's data (docs/schemas.md).
type Schema struct {
	Type      string          `json:"type"`
	Version   int             `json:"version"`
	Schema    json.RawMessage `json:"schema"`
	CreatedAt time.Time       `json:"created_at"`
	// Versions are the numbers of every version kept.
	Versions []int `json:"versions"`
}

// InferredSchema is what a bus with schemas: warn learnt of one type.
type InferredSchema struct {
	Type       string          `json:"type"`
	Events     int64           `json:"events"`
	Violations int64           `json:"violations"`
	Schema     json.RawMessage `json:"schema"`
}

// ListSchemas returns the latest schema of every type, sorted by type.
func (c *Client) ListSchemas(ctx context.Context) ([]Schema, error) {
	var out struct {
		Schemas []Schema `json:"schemas"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/schemas", "", nil, &out)
	return out.Schemas, err
}

// GetSchema returns the latest schema of typ, or version when it is not 0;
// a missing one is an *Error with Status 404.
func (c *Client) GetSchema(ctx context.Context, typ string, version int) (Schema, error) {
	path := "/v1/schemas/" + url.PathEscape(typ)
	if version > 0 {
		path += "?version=" + strconv.Itoa(version)
	}
	var out Schema
	_, err := c.do(ctx, http.MethodGet, path, "", nil, &out)
	return out, err
}

// PutSchema saves doc, a JSON Schema document, as the newest version of
// typ's schema (unless it equals the newest) and returns that version. A
// document that is not a valid schema is an *Error with Status 400 whose
// Fields name where in it the problem is.
func (c *Client) PutSchema(ctx context.Context, typ string, doc json.RawMessage) (Schema, error) {
	var out Schema
	_, err := c.do(ctx, http.MethodPut, "/v1/schemas/"+url.PathEscape(typ), "application/json", doc, &out)
	return out, err
}

// DeleteSchema deletes version of typ's schema, or every version when
// version is 0.
func (c *Client) DeleteSchema(ctx context.Context, typ string, version int) error {
	path := "/v1/schemas/" + url.PathEscape(typ)
	if version > 0 {
		path += "?version=" + strconv.Itoa(version)
	}
	_, err := c.do(ctx, http.MethodDelete, path, "", nil, nil)
	return err
}

// InferredSchemas returns the schemas bus inferred from its traffic.
func (c *Client) InferredSchemas(ctx context.Context, bus string) ([]InferredSchema, error) {
	var out struct {
		Schemas []InferredSchema `json:"schemas"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/buses/"+url.PathEscape(bus)+"/schemas/inferred", "", nil, &out)
	return out.Schemas, err
}
