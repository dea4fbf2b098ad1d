package httpapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus/schema"
	"github.com/eventbus-go/eventbus/errcode"
)

// schemaView is one version of a type's schema as the API shows it, with
// the numbers of every version kept.
type schemaView struct {
	Type      string          `json:"type"`
	Version   int             `json:"version"`
	Schema    json.RawMessage `json:"schema"`
	CreatedAt time.Time       `json:"created_at"`
	Versions  []int           `json:"versions"`
}

func viewOf(d schema.Doc, v schema.Version) schemaView {
	view := schemaView{Type: d.Type, Version: v.Version, Schema: v.Schema, CreatedAt: v.CreatedAt}
	for _, each := range d.Versions {
		view.Versions = append(view.Versions, each.Version)
	}
	return view
}

// Schemas are one registry for every bus: any authenticated caller may
// read them (producers need them), and only auth.admins may change them,
// since a schema binds every bus that enforces schemas.

func (b *Server) handleListSchemas(w http.ResponseWriter, _ *http.Request) {
	views := []schemaView{}
	for _, d := range b.Schemas() {
		if latest, ok := d.Latest(); ok {
			views = append(views, viewOf(d, latest))
		}
	}
	writeJSON(w, http.StatusOK, map[string][]schemaView{"schemas": views})
}

// handleGetSchema answers the latest version of a type's schema, or the
// one ?version=N names.
func (b *Server) handleGetSchema(w http.ResponseWriter, r *http.Request) {
	typ := r.PathValue("type")
	d, storeVersion, ok := b.SchemaOf(typ)
	if !ok {
		writeError(w, errcode.Errorf(errcode.NotFound, "event type %q has no schema: PUT /v1/schemas/%s to give it one", typ, typ))
		return
	}
	n, err := queryInt(r, "version", 0, 1, math.MaxInt32)
	if err != nil {
		writeError(w, err)
		return
	}
	v, found := d.Latest()
	if n > 0 {
		if v, found = d.Find(n); !found {
			writeError(w, errcode.Errorf(errcode.NotFound, "the schema of %q has no version %d (versions: %v)", typ, n, viewOf(d, schema.Version{}).Versions))
			return
		}
	}
	setETag(w, storeVersion)
	writeJSON(w, http.StatusOK, viewOf(d, v))
}

// handlePutSchema saves the body, a JSON Schema document, as the newest
// version of the type's schema: 201 for a type's first schema, 200 for a
// new version or for the same document again (no new version).
func (b *Server) handlePutSchema(w http.ResponseWriter, r *http.Request) {
	typ := r.PathValue("type")
	if err := b.AllowAdmin(r.Context(), "change", fmt.Sprintf("the schema of %q", typ)); err != nil {
		writeError(w, err)
		return
	}
	expected, err := ifMatch(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var doc json.RawMessage
	if err := decodeStrict(w, r, &doc); err != nil {
		writeError(w, err)
		return
	}
	_, _, existed := b.SchemaOf(typ)
	saved, storeVersion, _, err := b.PutSchema(r.Context(), typ, doc, expected)
	if err != nil {
		writeError(w, err)
		return
	}
	latest, _ := saved.Latest()
	writeSaved(w, viewOf(saved, latest), storeVersion, !existed, nil)
}

// handleDeleteSchema deletes a type's schema, or only ?version=N.
func (b *Server) handleDeleteSchema(w http.ResponseWriter, r *http.Request) {
	typ := r.PathValue("type")
	if err := b.AllowAdmin(r.Context(), "delete", fmt.Sprintf("the schema of %q", typ)); err != nil {
		writeError(w, err)
		return
	}
	n, err := queryInt(r, "version", 0, 1, math.MaxInt32)
	if err != nil {
		writeError(w, err)
		return
	}
	expected, err := ifMatch(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := b.DeleteSchema(r.Context(), typ, n, expected); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// inferredAnswer is the answer of GET /v1/buses/{name}/schemas/inferred.
type inferredAnswer struct {
	Bus     string            `json:"bus"`
	Schemas []schema.Inferred `json:"schemas"`
	// UntrackedEvents counts events of types past the most a bus tracks.
	UntrackedEvents int64 `json:"untracked_events"`
}

// handleInferredSchemas shows what a bus with schemas: warn learnt of each
// type's data; reading it needs read on the bus.
func (b *Server) handleInferredSchemas(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := b.Allow(r.Context(), name, auth.Read); err != nil {
		writeError(w, err)
		return
	}
	types, untracked, err := b.InferredSchemas(name)
	if err != nil {
		writeError(w, err)
		return
	}
	if types == nil {
		types = []schema.Inferred{}
	}
	writeJSON(w, http.StatusOK, inferredAnswer{Bus: name, Schemas: types, UntrackedEvents: untracked})
}
