// Package transform reshapes an event on its way to a route's target, with
// a jq program (github.com/itchyny/gojq, jq in pure Go).
//
// jq was chosen over JSONata because Go teams already write it (kubectl,
// gh, curl | jq), its update operators keep what a program does not name
// (`.data.email |= ascii_downcase` returns the whole event), and gojq is
// maintained, pure Go and compiles a program once for many concurrent runs.
//
// # Contract
//
// The program's input is the event in CloudEvents JSON (structured mode):
// its attributes and extensions at the top level, its data under "data" (a
// JSON value when the data is JSON, else a string), or "data_base64" for
// binary data. Its output is the event to deliver, in the same form:
//
//   - one object: the event the target receives. specversion, id, source and
//     type default to the input's when the object leaves them out. It must
//     be a valid CloudEvent of at most MaxOutputBytes.
//   - no output (`select(...)` that fails, or `empty`): the event is
//     dropped, not delivered.
//   - more than one output, a value that is not an object, an error raised
//     by the program, or a run longer than MaxRunTime: an Error, which the
//     bus dead-letters with its message.
//
// Programs are compiled once, by Compile, when a route is saved: a syntax
// error names its line and column. They cannot read the environment, other
// inputs or modules: what they see is the event.
package transform
