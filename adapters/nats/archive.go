package nats

import (
	"context"
	"errors"
	"iter"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

var _ adapters.Archiver = (*Driver)(nil)

// archiveFetch is how many archived messages one fetch of a read asks for,
// and archiveFetchWait how long it waits for them: the messages are
// already stored, so the wait only matters on a slow or busy server.
const (
	archiveFetch     = 256
	archiveFetchWait = 10 * time.Second
)

// archiveStream and archiveSubject name the archive's stream and subject:
// "~archive~" starts no channel's name (channel names start with a letter
// or digit), so an archive never shares a stream with a channel.
func (d *Driver) archiveStream(name string) string {
	return d.opts.prefix + "_~archive~" + strings.ReplaceAll(name, ".", "~")
}

func (d *Driver) archiveSubject(name string) string {
	return d.opts.prefix + ".~archive." + strings.ReplaceAll(name, ".", "~")
}

// EnsureArchive implements adapters.Archiver: a file-backed stream with
// limits retention, which drops its oldest messages once MaxAge or
// MaxBytes is passed, and the same duplicate window as channels.
func (d *Driver) EnsureArchive(ctx context.Context, name string, limits adapters.ArchiveLimits) error {
	maxBytes := limits.MaxBytes
	if maxBytes == 0 {
		maxBytes = -1
	}
	_, err := d.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       d.archiveStream(name),
		Subjects:   []string{d.archiveSubject(name)},
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardOld,
		Storage:    jetstream.FileStorage,
		Replicas:   d.opts.replicas,
		Duplicates: duplicateWindow,
		MaxAge:     limits.MaxAge,
		MaxBytes:   maxBytes,
		MaxMsgSize: -1,
	})
	if err != nil {
		return d.wrap(err, "create the archive", name)
	}
	return nil
}

// AppendArchive implements adapters.Archiver, with the Nats-Msg-Id of a
// channel's message so that a retried append is stored once.
func (d *Driver) AppendArchive(ctx context.Context, name string, m *adapters.Message) error {
	msg := toMsg(d.archiveSubject(name), m.Body, m.Metadata)
	opts := []jetstream.PublishOpt{jetstream.WithExpectStream(d.archiveStream(name))}
	if id := msgID(m.Metadata); id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	if _, err := d.js.PublishMsg(ctx, msg, opts...); err != nil {
		return d.wrap(err, "append to the archive", name)
	}
	return nil
}

// ReadArchive implements adapters.Archiver with an ordered consumer, which
// the server forgets once the read ends.
func (d *Driver) ReadArchive(ctx context.Context, name string, from adapters.ArchivePosition) iter.Seq2[adapters.Archived, error] {
	return func(yield func(adapters.Archived, error) bool) {
		stream, err := d.js.Stream(ctx, d.archiveStream(name))
		if err != nil {
			yield(adapters.Archived{}, d.wrap(err, "read the archive", name))
			return
		}
		info, err := stream.Info(ctx)
		if err != nil {
			yield(adapters.Archived{}, d.wrap(err, "read the archive", name))
			return
		}
		last := info.State.LastSeq
		if info.State.Msgs == 0 || from.Sequence > last || (from.Sequence == 0 && from.Time.After(info.State.LastTime)) {
			return
		}
		cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
		switch {
		case from.Sequence > 0:
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from.Sequence
		case !from.Time.IsZero():
			t := from.Time
			cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
		}
		cons, err := stream.OrderedConsumer(ctx, cfg)
		if err != nil {
			yield(adapters.Archived{}, d.wrap(err, "read the archive", name))
			return
		}
		for {
			more, err := d.readBatch(ctx, name, cons, last, yield)
			if err != nil {
				yield(adapters.Archived{}, err)
				return
			}
			if !more {
				return
			}
		}
	}
}

// readBatch fetches the next messages of a read and yields them; more is
// false once the read is over: the caller stopped, the last message was
// reached, or none came because everything after the start position
// expired. None coming while the archive still holds more is an error, so
// that a replay is not taken as done.
func (d *Driver) readBatch(ctx context.Context, name string, cons jetstream.Consumer, last uint64, yield func(adapters.Archived, error) bool) (more bool, err error) {
	fetchCtx, cancel := context.WithTimeout(ctx, archiveFetchWait)
	defer cancel()
	batch, err := cons.Fetch(archiveFetch, jetstream.FetchContext(fetchCtx))
	if err != nil {
		return false, d.wrap(err, "read the archive", name)
	}
	got := 0
	for msg := range batch.Messages() {
		got++
		meta, err := msg.Metadata()
		if err != nil {
			return false, d.wrap(err, "read the archive", name)
		}
		a := adapters.Archived{
			Message:  adapters.Message{Body: msg.Data(), Metadata: metadataOf(msg.Headers())},
			Sequence: meta.Sequence.Stream,
			Time:     meta.Timestamp,
		}
		if !yield(a, nil) || a.Sequence >= last || meta.NumPending == 0 {
			return false, nil
		}
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		return false, d.wrap(err, "read the archive", name)
	}
	if got == 0 {
		info, err := cons.Info(ctx)
		if err != nil {
			return false, d.wrap(err, "read the archive", name)
		}
		if info.NumPending > 0 {
			return false, errcode.Errorf(errcode.Unavailable, "the archive of %s holds %d more events but sent none within %v: read again from the position reached", name, info.NumPending, archiveFetchWait)
		}
	}
	return got > 0, nil
}

// DeleteArchive implements adapters.Archiver.
func (d *Driver) DeleteArchive(ctx context.Context, name string) error {
	err := d.js.DeleteStream(ctx, d.archiveStream(name))
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return d.wrap(err, "delete the archive", name)
	}
	return nil
}
