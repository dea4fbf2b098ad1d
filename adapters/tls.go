package adapters

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"

	"github.com/eventbus-go/eventbus/errcode"
)

// TLSOptions are the URL query options of a backend's TLS connection to
// its broker. Backends take them by these names:
//
//	ca_file      PEM file of the CAs that sign the broker's certificate
//	             (default: the system's CAs)
//	cert_file    PEM client certificate, for brokers that ask for one
//	key_file     its private key (both or neither)
//	server_name  the name to verify the broker's certificate against
//	             (default: the URL's host)
type TLSOptions struct {
	CAFile, CertFile, KeyFile, ServerName string
}

// TLSOptionNames are the query options TLSOptions.Set takes.
const TLSOptionNames = "ca_file, cert_file, key_file, server_name"

// Set takes the query option key with value v, reporting false when key is
// not a TLS option.
func (o *TLSOptions) Set(key, v string) bool {
	switch key {
	case "ca_file":
		o.CAFile = v
	case "cert_file":
		o.CertFile = v
	case "key_file":
		o.KeyFile = v
	case "server_name":
		o.ServerName = v
	default:
		return false
	}
	return true
}

// IsZero reports whether no TLS option was given.
func (o TLSOptions) IsZero() bool { return o == TLSOptions{} }

// Config reads the files the options name and returns the client's TLS
// config. Its errors are InvalidArgument and name the option at fault,
// prefixed by scheme ("amqps://"); they hold file names, never secrets.
func (o TLSOptions) Config(scheme string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, errcode.Errorf(errcode.InvalidArgument, "%s option ca_file: %v", scheme, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, errcode.Errorf(errcode.InvalidArgument, "%s option ca_file: %s holds no PEM certificate", scheme, o.CAFile)
		}
	}
	switch {
	case o.CertFile == "" && o.KeyFile == "":
	case o.CertFile == "" || o.KeyFile == "":
		return nil, errcode.Errorf(errcode.InvalidArgument, "%s options cert_file and key_file go together: give both or neither", scheme)
	default:
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, errcode.Errorf(errcode.InvalidArgument, "%s options cert_file and key_file: %v", scheme, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// TLSHint explains a failed connection that a certificate check refused,
// naming the options to look at; it returns "" for any other error.
func TLSHint(err error) string {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknownAuthority):
		return " (the broker's certificate is not signed by a trusted CA: check ca_file)"
	case errors.As(err, &hostname):
		return " (the broker's certificate is not for this host: check the URL's host or server_name)"
	case errors.As(err, &verify):
		return " (the broker's certificate was refused: check ca_file and server_name)"
	}
	return ""
}
