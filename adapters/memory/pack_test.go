package memory

import (
	"maps"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/adapters"
)

func TestCommonNamesAreFoundInPlace(t *testing.T) {
	for i, name := range commonNames {
		if got := commonName(name); got != i {
			t.Errorf("commonName(%q) = %d, want %d", name, got, i)
		}
	}
	for _, name := range []string{"", "ID", "partitionkey", "eventbus-", "sourcex"} {
		if got := commonName(name); got != -1 {
			t.Errorf("commonName(%q) = %d, want -1", name, got)
		}
	}
}

// FuzzPack checks that what a channel stores comes back as it was sent:
// metadata of common and other names (an empty one, a long one), and the
// body after it.
func FuzzPack(f *testing.F) {
	f.Add("partitionkey", "user-7", []byte(`{"n":1}`))
	f.Add("", "", []byte{})
	f.Add("source", strings.Repeat("v", 300), []byte("body"))
	f.Add(strings.Repeat("n", 200), "x", []byte(nil))
	f.Fuzz(func(t *testing.T, name, value string, body []byte) {
		md := map[string]string{
			"specversion":           "1.0",
			"id":                    "e-1",
			"type":                  "order.created",
			adapters.MetaAcceptedAt: "1765000000000",
			name:                    value,
		}
		packed, bodyAt, size := pack(md, body)
		m := &message{packed: packed, bodyAt: bodyAt}
		if got := m.metadata(); !maps.Equal(got, md) {
			t.Errorf("metadata came back as %q, want %q", got, md)
		}
		if got := m.body(); string(got) != string(body) {
			t.Errorf("body came back as %q, want %q", got, body)
		}
		want := len(body)
		for k, v := range md {
			want += len(k) + len(v)
		}
		if size != want {
			t.Errorf("size %d, want %d (body, names and values)", size, want)
		}
	})
}

// A message stored in memory does not keep what its sender's body was cut
// from: the channel holds its own copy.
func TestAStoredBodyIsTheChannelsOwn(t *testing.T) {
	topic, sub := openChannel(t, 1)
	body := []byte("original")
	if err := topic.Send(t.Context(), &adapters.Message{Body: body, Metadata: map[string]string{"id": "1"}}); err != nil {
		t.Fatal(err)
	}
	copy(body, "changed!")
	if got := string(receive(t, sub).Body); got != "original" {
		t.Errorf("received body %q, want the one sent, %q", got, "original")
	}
}
