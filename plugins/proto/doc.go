// Package proto is the versioned wire contract between the eventbus plugin
// host (package plugins) and handler plugins (package sdk/plugin): the gRPC
// service in handler.proto, its generated code, and the go-plugin
// handshake both sides must agree on.
//
// Events cross the wire in the CloudEvents JSON event format: it is what
// every CloudEvents SDK in every language reads, it is what the bus's HTTP
// API and dead letters show, and it needs no schema beyond the CloudEvents
// spec. A plugin written in another language needs only gRPC and a JSON
// parser.
//
// Regenerate the code after editing handler.proto (protoc 3.21+,
// protoc-gen-go and protoc-gen-go-grpc on PATH):
//
//	go generate ./plugins/proto
package proto

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative handler.proto
