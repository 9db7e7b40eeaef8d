// Package tlsutil loads planetary's mutual TLS settings: one CA that signs
// every server and client certificate, and this agent's own certificate and
// key. The same *tls.Config serves and dials: it presents the agent's
// certificate, trusts only the CA, and requires and verifies the peer's
// certificate in both directions, so a peer holding a certificate from
// another CA is refused on the HTTP API, the client protocol and raft.
package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Errors.
var (
	// ErrIncomplete is returned when only some of the three files are set.
	ErrIncomplete = errors.New("tlsutil: ca_file, cert_file and key_file must all be set")
	// ErrNoCACerts is returned when the CA file holds no PEM certificate.
	ErrNoCACerts = errors.New("tlsutil: no certificates in CA file")
)

// Environment variables the CLI and client role read (as -ca-cert,
// -client-cert and -client-key do).
const (
	EnvCACert     = "PLANETARY_CACERT"
	EnvClientCert = "PLANETARY_CLIENT_CERT"
	EnvClientKey  = "PLANETARY_CLIENT_KEY"
)

// Config names the PEM files. All empty means TLS is off.
type Config struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// FromEnv reads the files from PLANETARY_CACERT, PLANETARY_CLIENT_CERT and
// PLANETARY_CLIENT_KEY.
func FromEnv() Config {
	return Config{CAFile: os.Getenv(EnvCACert), CertFile: os.Getenv(EnvClientCert), KeyFile: os.Getenv(EnvClientKey)}
}

// Enabled reports whether any file is set.
func (c Config) Enabled() bool { return c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" }

// Load builds the mutual TLS config, or returns nil when c is empty.
func Load(c Config) (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	if c.CAFile == "" || c.CertFile == "" || c.KeyFile == "" {
		return nil, ErrIncomplete
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tlsutil: %s: %w", c.CAFile, ErrNoCACerts)
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: load key pair: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}
