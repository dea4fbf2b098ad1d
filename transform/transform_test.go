package transform

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
)

func testEvent(t *testing.T, data string) *event.Event {
	t.Helper()
	e := event.New()
	e.SetID("e-1")
	e.SetSource("/shop")
	e.SetType("order.created")
	e.SetExtension("tenant", "acme")
	if err := e.SetData(event.ApplicationJSON, []byte(data)); err != nil {
		t.Fatal(err)
	}
	return &e
}

func apply(t *testing.T, program, data string) (*event.Event, error) {
	t.Helper()
	p, err := Compile(program)
	if err != nil {
		t.Fatalf("Compile(%q): %v", program, err)
	}
	return p.Apply(context.Background(), testEvent(t, data))
}

func TestUpdateKeepsWhatTheProgramDoesNotName(t *testing.T) {
	out, err := apply(t, `.data.email |= ascii_downcase | .type = "order.normalized"`, `{"email":"A@B.EXAMPLE","total":12}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out.Data()); got != `{"email":"a@b.example","total":12}` {
		t.Errorf("data = %s; want the email lower-cased and the total kept", got)
	}
	if out.Type() != "order.normalized" || out.ID() != "e-1" || out.Source() != "/shop" || out.Extensions()["tenant"] != "acme" {
		t.Errorf("event = %s; want the new type and every other attribute and extension kept", out)
	}
}

func TestRequiredAttributesDefaultToTheInputs(t *testing.T) {
	out, err := apply(t, `{data: {who: .data.email}}`, `{"email":"a@b.example"}`)
	if err != nil {
		t.Fatal(err)
	}
	if out.ID() != "e-1" || out.Source() != "/shop" || out.Type() != "order.created" || out.SpecVersion() != "1.0" {
		t.Errorf("event = %s; an object without id, source, type or specversion keeps the input's", out)
	}
	if _, kept := out.Extensions()["tenant"]; kept {
		t.Errorf("extension tenant kept; a new object holds only what it names and the four required attributes")
	}
	if got := string(out.Data()); got != `{"who":"a@b.example"}` {
		t.Errorf("data = %s", got)
	}
}

func TestLargeIntegersStayExact(t *testing.T) {
	out, err := apply(t, `.`, `{"n":12345678901234567890,"m":9007199254740993}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out.Data()); got != `{"m":9007199254740993,"n":12345678901234567890}` {
		t.Errorf("data = %s; integers beyond float64's precision must come out as they went in", got)
	}
}

func TestNoOutputDropsTheEvent(t *testing.T) {
	out, err := apply(t, `select(.data.total > 100)`, `{"total":12}`)
	if err != nil || out != nil {
		t.Fatalf("Apply = %v, %v; want nil, nil: a program that outputs nothing drops the event", out, err)
	}
}

func TestRunFailuresAreErrorsThatSayWhy(t *testing.T) {
	for _, tc := range []struct{ program, want string }{
		{`.data.items[]`, "more than one event"},
		{`.data.total`, "number, not an object"},
		{`error("no customer")`, "no customer"},
		{`.id = 5`, "not a CloudEvent"},
		{`.data.total | tostring | ltrimstr(1)`, "ltrimstr"},
		{`last(range(1e12))`, "longer than"},
	} {
		t.Run(tc.program, func(t *testing.T) {
			_, err := apply(t, tc.program, `{"total":12,"items":[1,2]}`)
			var te *Error
			if !errors.As(err, &te) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Apply error = %v; want a transform error naming %q", err, tc.want)
			}
		})
	}
}

func TestSyntaxErrorsNameTheirPosition(t *testing.T) {
	_, err := Compile(".data |=\n  {email: .email")
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 2 {
		t.Fatalf("Compile error = %#v; want a SyntaxError on line 2", err)
	}
	if !strings.HasPrefix(err.Error(), "line 2, column ") {
		t.Errorf("error %q does not start with its position", err)
	}
	for _, src := range []string{"", "  ", "undefined_function(1)", strings.Repeat(".", MaxProgramBytes+1)} {
		if _, err := Compile(src); !errors.As(err, &se) {
			t.Errorf("Compile(%.20q) = %v; want a SyntaxError", src, err)
		}
	}
}

func TestProgramsCannotReadTheEnvironment(t *testing.T) {
	t.Setenv("EVENTBUS_TRANSFORM_SECRET", "hunter2")
	out, err := apply(t, `.data = {a: $ENV.EVENTBUS_TRANSFORM_SECRET, b: env.EVENTBUS_TRANSFORM_SECRET}`, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out.Data()), "hunter2") {
		t.Fatalf("data = %s: a transform read the bus's environment", out.Data())
	}
}

func TestTextAndBinaryDataReachTheProgram(t *testing.T) {
	p, err := Compile(`.data |= (if type == "string" then ascii_upcase else . end)`)
	if err != nil {
		t.Fatal(err)
	}
	text := testEvent(t, `{}`)
	_ = text.SetData("text/plain", []byte("hello"))
	out, err := p.Apply(context.Background(), text)
	if err != nil || string(out.Data()) != "HELLO" || out.DataContentType() != "text/plain" {
		t.Fatalf("text data: %v, %v; want HELLO as text/plain: text data is a string to the program", out, err)
	}
	bin := testEvent(t, `{}`)
	_ = bin.SetData("application/octet-stream", []byte{0xff, 0x00, 0x01})
	out, err = p.Apply(context.Background(), bin)
	if err != nil || string(out.Data()) != "\xff\x00\x01" {
		t.Fatalf("binary data: %v, %v; want the bytes unchanged: binary data is data_base64, which the program left alone", out, err)
	}
}
