package schema

import (
	"bytes"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/eventbus-go/eventbus/spec"
)

// Set is the compiled schemas of every type, read by ingress. It is
// immutable: a change builds a new Set.
type Set struct {
	types map[string]*versions
}

type versions struct {
	latest    *Compiled
	byVersion map[int]*Compiled
}

// With returns a Set that holds d's versions for d.Type instead of what s
// holds for it. The versions are compiled here; one that fails (it did
// not when it was saved) is left out and named in the error, and the Set
// returned is usable.
func (s *Set) With(d Doc) (*Set, error) {
	vs := &versions{byVersion: make(map[int]*Compiled, len(d.Versions))}
	var errs []string
	for _, v := range d.Versions {
		c, err := Compile(d.Type, v.Version, v.Schema)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s version %d: %v", d.Type, v.Version, err))
			continue
		}
		vs.byVersion[v.Version] = c
		if vs.latest == nil || v.Version > vs.latest.Version {
			vs.latest = c
		}
	}
	next := s.Without(d.Type)
	if vs.latest != nil {
		next.types[d.Type] = vs
	}
	if len(errs) > 0 {
		return next, fmt.Errorf("stored schemas that do not compile: %s", strings.Join(errs, "; "))
	}
	return next, nil
}

// Without returns a Set without typ's schemas.
func (s *Set) Without(typ string) *Set {
	next := &Set{types: make(map[string]*versions, len(s.types)+1)}
	for t, vs := range s.types {
		if t != typ {
			next.types[t] = vs
		}
	}
	return next
}

// Has reports whether typ has a schema.
func (s *Set) Has(typ string) bool { return s != nil && s.types[typ] != nil }

// Check validates e's data against the schema of its type: the latest
// version, or the one its dataschema pins (a URL ending in
// /v1/schemas/{type}?version=N). An event whose type has no schema passes.
// parsed is the decoded data when the event had a schema to meet (for
// the caller to reuse), nil otherwise.
func (s *Set) Check(e *event.Event) (parsed any, err error) {
	vs := s.types[e.Type()]
	if vs == nil {
		return nil, nil
	}
	c := vs.latest
	if n, pinned, err := pinnedVersion(e.DataSchema(), e.Type()); err != nil {
		return nil, err
	} else if pinned {
		if c = vs.byVersion[n]; c == nil {
			return nil, &spec.FieldError{Path: "dataschema", Message: fmt.Sprintf("names version %d of the schema of %s, which does not exist (latest: %d)", n, e.Type(), vs.latest.Version)}
		}
	}
	data, err := Decode(e)
	if err != nil {
		return nil, err
	}
	return data, c.Validate(data)
}

// Decode parses e's data as JSON, as schemas see it: numbers exact, no
// data as null. Data of a media type that is not JSON is an error.
func Decode(e *event.Event) (any, error) {
	if ct := e.DataContentType(); ct != "" && !isJSON(ct) {
		return nil, &spec.FieldError{Path: "datacontenttype", Message: fmt.Sprintf("is %q: schemas check JSON data only; send application/json", ct)}
	}
	raw := e.Data()
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, &spec.FieldError{Path: "data", Message: "is not JSON: " + err.Error()}
	}
	return v, nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json"))
}

// pinnedVersion reads the version a dataschema URL pins: .../v1/schemas/{typ}?version=N.
// Any other dataschema pins nothing.
func pinnedVersion(dataschema, typ string) (int, bool, error) {
	if dataschema == "" {
		return 0, false, nil
	}
	u, err := url.Parse(dataschema)
	if err != nil || !strings.HasSuffix(u.Path, "/v1/schemas/"+typ) {
		return 0, false, nil
	}
	v := u.Query().Get("version")
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, false, &spec.FieldError{Path: "dataschema", Message: fmt.Sprintf("version=%q is not a schema version (1, 2, ...)", v)}
	}
	return n, true, nil
}
