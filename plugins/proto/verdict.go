package proto

import "github.com/eventbus-go/eventbus/verdict"

// The wire form of each verdict.Verdict, in the one place both the host
// (plugins) and plugin processes (sdk/plugin) translate it.
var kinds = map[verdict.Verdict]Kind{
	verdict.Ack:        Kind_KIND_ACK,
	verdict.Retry:      Kind_KIND_RETRY,
	verdict.Drop:       Kind_KIND_DROP,
	verdict.DeadLetter: Kind_KIND_DEAD_LETTER,
}

// KindOf is the wire Kind of v, or false for a value that is not one of
// verdict's constants.
func KindOf(v verdict.Verdict) (Kind, bool) {
	k, ok := kinds[v]
	return k, ok
}

// Verdict is the verdict k carries, or false for a Kind this side of the
// protocol does not know (a newer peer).
func (k Kind) Verdict() (verdict.Verdict, bool) {
	for v, kind := range kinds {
		if kind == k {
			return v, true
		}
	}
	return 0, false
}
