package httpapi

import (
	"net/http"

	"github.com/eventbus-go/eventbus/auth"
)

func (b *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	if err := b.AllowAdmin(r.Context(), "manage", "API keys"); err != nil {
		writeError(w, err)
		return
	}
	var req struct {
		Name   string   `json:"name"`
		Groups []string `json:"groups"`
	}
	if err := decodeStrict(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	k, err := b.CreateKey(r.Context(), req.Name, req.Groups)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, k)
}

func (b *Server) handleListKeys(w http.ResponseWriter, r *http.Request) {
	if err := b.AllowAdmin(r.Context(), "manage", "API keys"); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]auth.Key{"keys": b.Keys()})
}

func (b *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request) {
	if err := b.AllowAdmin(r.Context(), "manage", "API keys"); err != nil {
		writeError(w, err)
		return
	}
	if err := b.RevokeKey(r.Context(), r.PathValue("name")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
