package httpapi

import (
	"net/http"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/schedule"
)

// handleListSchedules lists the schedules of the buses the caller may read.
func (b *Server) handleListSchedules(w http.ResponseWriter, r *http.Request) {
	list := bus.Readable(r.Context(), b.Bus, b.Schedules(), func(s schedule.Schedule) string { return s.Bus })
	writeJSON(w, http.StatusOK, map[string][]schedule.Schedule{"schedules": list})
}

func (b *Server) handleGetSchedule(w http.ResponseWriter, r *http.Request) {
	if err := b.AllowOnSchedule(r.Context(), r.PathValue("name"), auth.Read); err != nil {
		writeError(w, err)
		return
	}
	s, ok := b.ScheduleNamed(r.PathValue("name"))
	writeFound(w, r, "schedule", s, s.Version, ok)
}

// handlePutSchedule saves a schedule. It takes manage on its bus and the
// right to emit its event there.
func (b *Server) handlePutSchedule(w http.ResponseWriter, r *http.Request) {
	s, expected, err := readPut(w, r, func(s *schedule.Schedule) *string { return &s.Name })
	if err != nil {
		writeError(w, err)
		return
	}
	if err := b.AllowSchedule(r.Context(), s); err != nil {
		writeError(w, err)
		return
	}
	saved, created, err := b.PutSchedule(r.Context(), s, expected)
	writeSaved(w, saved, saved.Version, created, err)
}

func (b *Server) handleDeleteSchedule(w http.ResponseWriter, r *http.Request) {
	deleteNamed(w, r, b.AllowOnSchedule(r.Context(), r.PathValue("name"), auth.Manage), b.DeleteSchedule)
}
