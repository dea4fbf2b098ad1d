package bus_test

import (
	"net/http"
	"testing"
)

// Schemas and schedules are behind the ACL: anyone authenticated reads
// schemas, only admins change them; a schedule takes manage on its bus and
// the right to emit its event, and reading it takes read on the bus.
func TestSchemasAndSchedulesFollowTheACL(t *testing.T) {
	s := startSecuredBus(t)
	schema := `{"type": "object"}`
	status, _, body := s.do(t, http.MethodPut, "/v1/schemas/order.created", s.keys["shop-web"], nil, schema)
	checkRefusal(t, status, body, http.StatusForbidden, "permission_denied", `may not change the schema of "order.created": that is for auth.admins`)
	if status, _, body := s.do(t, http.MethodPut, "/v1/schemas/order.created", s.keys["ops"], nil, schema); status != http.StatusCreated {
		t.Fatalf("an admin's PUT schema: %d %s", status, body)
	}
	if status, _, body := s.do(t, http.MethodGet, "/v1/schemas/order.created", s.keys["shop-web"], nil, ""); status != http.StatusOK {
		t.Fatalf("GET schema by a producer: %d %s; want 200, producers need the schema", status, body)
	}
	status, _, body = s.do(t, http.MethodDelete, "/v1/schemas/order.created", s.keys["support"], nil, "")
	checkRefusal(t, status, body, http.StatusForbidden, "permission_denied", "that is for auth.admins")
	status, _, body = s.do(t, http.MethodGet, "/v1/buses/shop/schemas/inferred", s.keys["shop-web"], nil, "")
	checkRefusal(t, status, body, http.StatusForbidden, "permission_denied", `may not read bus "shop"`)
	if status, _, body := s.do(t, http.MethodGet, "/v1/buses/shop/schemas/inferred", s.keys["support"], nil, ""); status != http.StatusOK {
		t.Fatalf("GET inferred by a reader of shop: %d %s", status, body)
	}

	schedule := `{"bus": "shop", "cron": "@hourly", "event": {"type": "order.reminder"}}`
	status, _, body = s.do(t, http.MethodPut, "/v1/schedules/remind", s.keys["shop-web"], nil, schedule)
	checkRefusal(t, status, body, http.StatusForbidden, "permission_denied", `may not manage bus "shop"`)
	if status, _, body := s.do(t, http.MethodPut, "/v1/schedules/remind", s.keys["ops"], nil, schedule); status != http.StatusCreated {
		t.Fatalf("an admin's PUT schedule: %d %s", status, body)
	}
	status, _, body = s.do(t, http.MethodGet, "/v1/schedules/remind", s.keys["acme"], nil, "")
	checkRefusal(t, status, body, http.StatusForbidden, "permission_denied", `may not read bus "shop"`)
	if status, _, body := s.do(t, http.MethodGet, "/v1/schedules/remind", s.keys["support"], nil, ""); status != http.StatusOK {
		t.Fatalf("GET schedule by a reader of shop: %d %s", status, body)
	}
	if _, _, body := s.do(t, http.MethodGet, "/v1/schedules", s.keys["acme"], nil, ""); body != "{\"schedules\":[]}\n" {
		t.Errorf("list by a caller who may not read shop: %s; want no schedules shown", body)
	}
	status, _, body = s.do(t, http.MethodDelete, "/v1/schedules/remind", s.keys["support"], nil, "")
	checkRefusal(t, status, body, http.StatusForbidden, "permission_denied", `may not manage bus "shop"`)
	if status, _, body := s.do(t, http.MethodDelete, "/v1/schedules/remind", s.keys["ops"], nil, ""); status != http.StatusNoContent {
		t.Fatalf("an admin's DELETE schedule: %d %s", status, body)
	}
}

// A schedule is refused when saved with what is wrong named by field.
func TestBadScheduleIsRefusedNamingTheField(t *testing.T) {
	s := startSecuredBus(t)
	for _, tc := range []struct{ body, field string }{
		{`{"cron": "61 * * * *", "event": {"type": "t"}}`, "cron"},
		{`{"event": {"type": "t"}}`, "cron"},
		{`{"cron": "@hourly", "at": "2026-01-01T00:00:00Z", "event": {"type": "t"}}`, "at"},
		{`{"at": "tomorrow", "event": {"type": "t"}}`, "at"},
		{`{"cron": "@hourly", "time_zone": "Mars/Olympus", "event": {"type": "t"}}`, "time_zone"},
		{`{"cron": "@hourly", "event": {}}`, "event.type"},
		{`{"cron": "@hourly", "event": {"type": "t", "extensions": {"Bad-Name": "x"}}}`, "event.extensions.Bad-Name"},
	} {
		status, _, body := s.do(t, http.MethodPut, "/v1/schedules/bad", s.keys["ops"], nil, tc.body)
		checkRefusal(t, status, body, http.StatusBadRequest, "invalid_argument", tc.field+":")
	}
}
