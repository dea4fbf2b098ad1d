// Package router holds routes and the rule language that decides which
// events a route receives: parse, validate, compile, match and explain.
//
// A Rule combines an EventBridge-style pattern ("match") and CloudEvents
// Subscriptions API filters ("filters"); docs/rules.md describes every
// operator with examples that the tests check.
//
// The contract:
//
//   - Everything here is a pure function of its inputs. Nothing does I/O,
//     starts a goroutine, sleeps, or reads a clock; retries, metrics and
//     dead-lettering wrap around the router in packages bus and bus/delivery.
//   - Rules go parse → compile → match. Rule.Validate parses one rule and
//     returns every problem as a *spec.FieldError with the JSON path of the
//     offending part, so an API can refuse a bad route when it is saved.
//     NewMatcher compiles all rules of one bus into one immutable Matcher;
//     the bus swaps in a new Matcher when routes change, so matching never
//     takes a lock.
//   - Limits bound what one rule may cost (size, nesting, values, $or
//     combinations, wildcard stars), so one route cannot exhaust the
//     memory or CPU of the bus.
//   - Matcher.Match is safe for concurrent use, allocates little beyond its
//     result, and costs per event what the event's values select, not the
//     number of routes: exact values are found by hashing, prefixes and
//     suffixes in radix trees.
//     An event's JSON data is decoded at most once, however many routes
//     read it.
//   - Explain evaluates one rule against one event for a human: which field
//     and condition failed first, or which conditions held.
package router
