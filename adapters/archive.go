package adapters

import (
	"context"
	"iter"
	"time"

	"github.com/eventbus-go/eventbus/errcode"
)

// Archiver is the optional ability behind Capabilities.Archive: keeping
// every event a bus accepted, in the order it was archived, for a while,
// so that it can be replayed into a route later. An archive is named like
// a channel but is not one: nothing consumes it, and what it holds leaves
// only by its limits.
type Archiver interface {
	// EnsureArchive creates the archive, or updates its limits.
	EnsureArchive(ctx context.Context, name string, limits ArchiveLimits) error
	// AppendArchive stores m at the end of the archive and returns once it
	// is stored. A retried append of the same message (same CloudEvents
	// source and id) within a few minutes is stored once.
	AppendArchive(ctx context.Context, name string, m *Message) error
	// ReadArchive yields the archived messages from the position on, in
	// archive order, up to the last one archived when the read began; it
	// ends at the first error, which it yields. An archive that does not
	// exist yields NotFound.
	ReadArchive(ctx context.Context, name string, from ArchivePosition) iter.Seq2[Archived, error]
	// DeleteArchive removes the archive and what it holds; one that does
	// not exist is not an error.
	DeleteArchive(ctx context.Context, name string) error
}

// ArchiveLimits bound an archive: the oldest events go once either is
// passed. Zero means no limit of that kind.
type ArchiveLimits struct {
	MaxAge   time.Duration
	MaxBytes int64
}

// ArchivePosition is where a read of an archive starts: at Sequence when it
// is not zero, else at the first event archived at or after Time (the
// zero Time: the oldest event kept).
type ArchivePosition struct {
	Sequence uint64
	Time     time.Time
}

// Archived is one message read back from an archive.
type Archived struct {
	Message
	// Sequence numbers the archive's messages from 1, in archive order,
	// without reuse.
	Sequence uint64
	// Time is when the message was archived.
	Time time.Time
}

// Archiver returns the backend's archive ability, or FailedPrecondition
// for a backend without Capabilities.Archive.
func (b *Backend) Archiver() (Archiver, error) {
	a, ok := b.d.(Archiver)
	if !ok {
		return nil, errcode.Errorf(errcode.FailedPrecondition, "this backend cannot keep an archive: use nats+embedded:// (eventbus serve's default) or nats:// as the bus's backend")
	}
	return a, nil
}
