package nats_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/nats"
	"github.com/eventbus-go/eventbus/errcode"
)

func archivedMessage(n int) *adapters.Message {
	return &adapters.Message{
		Body:     fmt.Appendf(nil, `{"n":%d}`, n),
		Metadata: map[string]string{"specversion": "1.0", "id": fmt.Sprint("a", n), "source": "/t", "type": "t"},
	}
}

func readAll(t *testing.T, a adapters.Archiver, name string, from adapters.ArchivePosition) []adapters.Archived {
	t.Helper()
	var got []adapters.Archived
	for m, err := range a.ReadArchive(t.Context(), name, from) {
		if err != nil {
			t.Fatalf("reading archive %s from %+v: %v", name, from, err)
		}
		got = append(got, m)
	}
	return got
}

// An archive gives back what was appended, in order, from a sequence or a
// time, up to the last message at the start of the read; a retried append
// is stored once.
func TestArchiveReadsBackInOrderFromASequenceOrATime(t *testing.T) {
	d, err := nats.OpenEmbedded(t.Context(), embeddedURL(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	a := adapters.Archiver(d.(*nats.Driver))
	if err := a.EnsureArchive(t.Context(), "shop.eu", adapters.ArchiveLimits{MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	var middle time.Time
	for n := 1; n <= 10; n++ {
		if n == 6 {
			middle = time.Now()
		}
		if err := a.AppendArchive(t.Context(), "shop.eu", archivedMessage(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.AppendArchive(t.Context(), "shop.eu", archivedMessage(10)); err != nil {
		t.Fatal(err)
	}
	all := readAll(t, a, "shop.eu", adapters.ArchivePosition{})
	if len(all) != 10 {
		t.Fatalf("read %d messages, want the 10 appended (a retried append stored once)", len(all))
	}
	for i, m := range all {
		if m.Sequence != uint64(i+1) || m.Metadata["id"] != fmt.Sprint("a", i+1) || string(m.Body) != fmt.Sprintf(`{"n":%d}`, i+1) {
			t.Fatalf("message %d = seq %d id %s body %s: want the appended messages in order", i, m.Sequence, m.Metadata["id"], m.Body)
		}
	}
	if got := readAll(t, a, "shop.eu", adapters.ArchivePosition{Sequence: 4}); len(got) != 7 || got[0].Metadata["id"] != "a4" {
		t.Errorf("from sequence 4: %d messages starting at %v, want 7 from a4", len(got), got[0].Metadata["id"])
	}
	if got := readAll(t, a, "shop.eu", adapters.ArchivePosition{Time: middle}); len(got) != 5 || got[0].Metadata["id"] != "a6" {
		t.Errorf("from the time of a6: %d messages, want 5 from a6", len(got))
	}
	if got := readAll(t, a, "shop.eu", adapters.ArchivePosition{Sequence: 11}); len(got) != 0 {
		t.Errorf("from past the end: %d messages, want none", len(got))
	}
	if got := readAll(t, a, "shop.eu", adapters.ArchivePosition{Time: time.Now().Add(time.Hour)}); len(got) != 0 {
		t.Errorf("from a time past the end: %d messages, want none", len(got))
	}
	for _, err := range a.ReadArchive(t.Context(), "none", adapters.ArchivePosition{}) {
		if errcode.Of(err) != errcode.NotFound {
			t.Errorf("reading an archive never made: %v, want NotFound", err)
		}
	}
	if err := a.DeleteArchive(t.Context(), "shop.eu"); err != nil {
		t.Fatal(err)
	}
}
