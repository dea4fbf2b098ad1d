package router_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus/schedule"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/sdk"
)

// The SDK keeps its own copy of the resource model, so that it imports
// nothing of the bus. These tests hold the two equal on the wire: each
// golden document sets every field of the model (never mind that a real
// route has one target, not three) and both sides must read all of it, write
// it back unchanged, and have no field the document leaves out. A field
// added on one side only fails here, naming the field.

// serverOnly are the fields of the bus's model that never cross the admin
// API: the config file's secret_env, and the previous signing secret the bus
// keeps but never shows, and an API key's hash.
var serverOnly = map[string]bool{
	"Key.Hash":                                 true,
	"Route.Target.HTTP.Signing.SecretEnv":      true,
	"Route.Target.HTTP.Signing.PreviousSecret": true,
	// An archive turned off is the string "off" instead of the object the
	// document holds; TestArchiveOffCrossesTheMirror reads and writes it.
	"Bus.Archive.Off": true,
}

func TestSDKRouteMirrorsTheBus(t *testing.T) {
	golden := readGolden(t, "route.json")
	checkMirror[router.Route](t, "Route", golden)
	checkMirror[sdk.Route](t, "Route", golden)
}

func TestSDKBusMirrorsTheBus(t *testing.T) {
	golden := readGolden(t, "bus.json")
	checkMirror[router.Bus](t, "Bus", golden)
	checkMirror[sdk.Bus](t, "Bus", golden)
}

func TestArchiveOffCrossesTheMirror(t *testing.T) {
	doc := []byte(`{"name":"quiet","archive":"off"}`)
	var rb router.Bus
	var sb sdk.Bus
	for _, v := range []any{&rb, &sb} {
		if err := json.Unmarshal(doc, v); err != nil {
			t.Fatalf("%T cannot read archive \"off\": %v", v, err)
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, doc) {
			t.Errorf("%T writes an archive turned off as %s, want %s", v, out, doc)
		}
	}
	if !rb.Archive.Off || !sb.Archive.Off {
		t.Errorf("archive \"off\" read as on: bus %+v, sdk %+v", rb.Archive, sb.Archive)
	}
}

func TestSDKScheduleMirrorsTheBus(t *testing.T) {
	golden := readGolden(t, "schedule.json")
	checkMirror[schedule.Schedule](t, "Schedule", golden)
	checkMirror[sdk.Schedule](t, "Schedule", golden)
}

func TestSDKKeyMirrorsTheBus(t *testing.T) {
	golden := readGolden(t, "key.json")
	checkMirror[auth.Key](t, "Key", golden)
	checkMirror[sdk.Key](t, "Key", golden)
}

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "wire", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkMirror decodes golden into a T, strictly, checks that every field of
// T got a value, and that T writes the same document back.
func checkMirror[T any](t *testing.T, root string, golden []byte) {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(golden))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%T cannot read testdata/wire (a field the document has and %T lacks?): %v", v, v, err)
	}
	for _, path := range zeroFields(root, reflect.ValueOf(v)) {
		if !serverOnly[path] {
			t.Errorf("%T: %s is not in testdata/wire: add it there, and to the other side of the mirror", v, path)
		}
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(golden, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%T writes a different document than it read:\nread  %s\nwrote %s", v, compact(t, golden), out)
	}
}

// zeroFields lists the exported struct fields under v that hold their zero
// value, as dotted paths from root.
func zeroFields(root string, v reflect.Value) []string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return []string{root}
		}
		return zeroFields(root, v.Elem())
	case reflect.Struct:
		if v.Type().PkgPath() == "time" {
			break
		}
		var zero []string
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.IsExported() {
				zero = append(zero, zeroFields(root+"."+f.Name, v.Field(i))...)
			}
		}
		return zero
	}
	if v.IsZero() {
		return []string{root}
	}
	return nil
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
