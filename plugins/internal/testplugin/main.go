// Command testplugin is the plugin the host's tests run as a real process.
// What it does depends on the event type:
//
//	test.echo   ack, replying one event of type test.echoed whose data names
//	            the event's id and the traceparent extension it came with
//	test.sleep  sleep for the number of milliseconds in the data, then ack
//	test.hold   hold the event until the file the data names exists, then ack
//	test.hang   stop the whole process (SIGSTOP): it answers nothing more
//	other       ack
//
// TESTPLUGIN_PIDFILE, if set, is a file it writes its process id to.
// TESTPLUGIN_PROTOCOL, if set, is the protocol version it announces, to
// test a handshake mismatch.
package main

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/eventbus-go/eventbus/plugins/proto"
	"github.com/eventbus-go/eventbus/sdk/plugin"
)

func main() {
	if f := os.Getenv("TESTPLUGIN_PIDFILE"); f != "" {
		if err := os.WriteFile(f, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
			panic(err)
		}
	}
	opts := plugin.Options{Name: "testplugin", Version: "0.0.1", EventTypes: []string{"test.echo", "test.sleep", "test.hold", "test.hang"}}
	if v := os.Getenv("TESTPLUGIN_PROTOCOL"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			panic(err)
		}
		hs := proto.Handshake
		hs.ProtocolVersion = uint(n)
		goplugin.Serve(&goplugin.ServeConfig{
			HandshakeConfig: hs,
			Plugins:         proto.PluginSet(plugin.NewServer(plugin.HandlerFunc(handle), opts)),
			GRPCServer:      goplugin.DefaultGRPCServer,
		})
		return
	}
	plugin.Serve(plugin.HandlerFunc(handle), opts)
}

func handle(ctx context.Context, e event.Event) (plugin.Result, error) {
	switch e.Type() {
	case "test.echo":
		r := event.New()
		r.SetType("test.echoed")
		r.SetSource("testplugin")
		traceparent, _ := e.Extensions()["traceparent"].(string)
		if err := r.SetData(event.ApplicationJSON, map[string]string{"of": e.ID(), "traceparent": traceparent}); err != nil {
			return plugin.Result{}, err
		}
		return plugin.Ack(r), nil
	case "test.sleep":
		var ms int
		if err := json.Unmarshal(e.Data(), &ms); err != nil {
			return plugin.DeadLetter("data must be a number of milliseconds"), nil
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
			return plugin.Result{}, ctx.Err()
		}
	case "test.hold":
		var release string
		if err := json.Unmarshal(e.Data(), &release); err != nil {
			return plugin.DeadLetter("data must be the path of a file"), nil
		}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := os.Stat(release); err == nil {
				break
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return plugin.Result{}, ctx.Err()
			}
		}
	case "test.hang":
		_ = syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		select {} // the stop is asynchronous: answer nothing meanwhile
	}
	return plugin.Ack(), nil
}
