package nats

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// embeddedMaxPayload is the embedded server's max_payload: 4 MiB of
// message, as the in-memory backend allows, plus the header reserve.
const embeddedMaxPayload = 4<<20 + headerReserve

// embeddedStartTimeout bounds how long the embedded server may take to
// recover its store and accept connections.
const embeddedStartTimeout = time.Minute

// OpenEmbedded is the adapters.Opener for nats+embedded:// URLs: a NATS
// server with JetStream inside the process, storing under dir, reached
// in-process. It listens on no network port unless listen names one.
func OpenEmbedded(ctx context.Context, u *url.URL) (adapters.Driver, error) {
	opts := options{prefix: DefaultPrefix, replicas: 1, ackWait: DefaultAckWait, lanes: DefaultLanes}
	sopts := &server.Options{
		ServerName: "eventbus",
		JetStream:  true,
		DontListen: true,
		MaxPayload: embeddedMaxPayload,
		NoSigs:     true,
		NoLog:      true,
	}
	err := parseQuery(u, &opts, func(key, v string) bool {
		switch key {
		case "dir":
			sopts.StoreDir = v
		case "listen":
			host, port, err := net.SplitHostPort(v)
			n, perr := strconv.Atoi(port)
			if err != nil || perr != nil {
				return false
			}
			sopts.DontListen, sopts.Host, sopts.Port = false, host, n
		case "sync":
			if v == "always" {
				sopts.SyncAlways = true
				return true
			}
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return false
			}
			sopts.SyncInterval = d
		default:
			return false
		}
		return true
	}, "dir, listen=host:port, sync=always|<duration>")
	if err != nil {
		return nil, err
	}
	if opts.replicas != 1 {
		return nil, errcode.Errorf(errcode.InvalidArgument, "%s:// stores one replica: drop the replicas option, or use nats:// with a cluster", SchemeEmbedded)
	}
	if sopts.StoreDir == "" {
		return nil, errcode.Errorf(errcode.InvalidArgument, "%s:// needs dir=<directory> for its store (eventbus serve puts it under --data-dir)", SchemeEmbedded)
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, errcode.Errorf(errcode.InvalidArgument, "%s://: %v", SchemeEmbedded, err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(embeddedStartTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errcode.Errorf(errcode.Unavailable, "%s://: the server did not start within %v: check that the store %s is writable and not used by another process", SchemeEmbedded, embeddedStartTimeout, sopts.StoreDir)
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("eventbus"), nats.MaxReconnects(-1))
	if err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errcode.Errorf(errcode.Internal, "%s://: connecting in-process: %v", SchemeEmbedded, err)
	}
	return newDriver(ctx, nc, srv, opts)
}
