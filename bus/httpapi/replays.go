package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus"
)

// handleStartReplay starts a replay of the route's bus archive into the
// route. It needs manage, as changing the route does: a replay stores
// events on the route's channel.
func (b *Server) handleStartReplay(w http.ResponseWriter, r *http.Request) {
	route := r.PathValue("name")
	if err := b.AllowOnRoute(r.Context(), route, auth.Manage); err != nil {
		writeError(w, err)
		return
	}
	var req bus.ReplayRequest
	if err := decodeStrict(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	rp, err := b.StartReplay(r.Context(), route, req)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Location", "/v1/routes/"+url.PathEscape(route)+"/replays/"+url.PathEscape(rp.ID))
	writeJSON(w, http.StatusCreated, rp)
}

// handleListReplays lists the route's replays, newest first (read).
func (b *Server) handleListReplays(w http.ResponseWriter, r *http.Request) {
	route := r.PathValue("name")
	if err := b.AllowOnRoute(r.Context(), route, auth.Read); err != nil {
		writeError(w, err)
		return
	}
	rps, err := b.Replays(r.Context(), route)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]bus.Replay{"replays": rps})
}

// handleGetReplay shows one replay's progress (read).
func (b *Server) handleGetReplay(w http.ResponseWriter, r *http.Request) {
	b.onReplay(w, r, auth.Read, b.GetReplay)
}

// handleCancelReplay stops a replay (manage) and shows it as it ended.
func (b *Server) handleCancelReplay(w http.ResponseWriter, r *http.Request) {
	b.onReplay(w, r, auth.Manage, b.CancelReplay)
}

// onReplay answers with what call does to the replay in r's path, once the
// caller holds action on the route's bus.
func (b *Server) onReplay(w http.ResponseWriter, r *http.Request, action auth.Action, call func(context.Context, string, string) (bus.Replay, error)) {
	route := r.PathValue("name")
	if err := b.AllowOnRoute(r.Context(), route, action); err != nil {
		writeError(w, err)
		return
	}
	rp, err := call(r.Context(), route, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rp)
}
