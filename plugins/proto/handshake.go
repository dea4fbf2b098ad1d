package proto

import (
	"context"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ProtocolVersion is the version of this contract. The host refuses a
// plugin that announces another one; bump it with every breaking change to
// handler.proto.
const ProtocolVersion = 1

// Handshake is the go-plugin handshake of eventbus handler plugins. The
// magic cookie only keeps a plugin binary from being run by hand by
// mistake; it is not a secret (AutoMTLS protects the connection).
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "EVENTBUS_PLUGIN",
	MagicCookieValue: "cloudevents-handler",
}

// PluginName is the name under which a plugin process serves the Handler
// service in its go-plugin plugin set.
const PluginName = "handler"

// Plugin is the go-plugin glue for the Handler service, the same type on
// both sides: a plugin process sets Impl and serves it; the host leaves
// Impl nil and dispenses a HandlerClient.
type Plugin struct {
	goplugin.NetRPCUnsupportedPlugin
	Impl HandlerServer
}

var _ goplugin.GRPCPlugin = (*Plugin)(nil)

// GRPCServer registers the Handler service on a plugin's gRPC server.
func (p *Plugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	RegisterHandlerServer(s, p.Impl)
	return nil
}

// GRPCClient returns a HandlerClient on the host's connection to a plugin.
func (p *Plugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewHandlerClient(c), nil
}

// PluginSet is the plugin set both sides pass to go-plugin.
func PluginSet(impl HandlerServer) goplugin.PluginSet {
	return goplugin.PluginSet{PluginName: &Plugin{Impl: impl}}
}
