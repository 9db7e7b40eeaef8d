// Package pluginmtls is the mutual TLS between the host and a plugin
// process, set up without go-plugin's automatic mTLS.
//
// go-plugin's automatic mTLS generates a P-521 key on both sides at every
// launch and signs and verifies with it at the handshake: about 36 ms of CPU
// per plugin launch, as profiled over the acceptance drill. Here the host keeps one
// P-256 identity for its lifetime and generates a fresh P-256 key and
// certificate for each plugin it launches. It hands the plugin its key and
// certificate through an inherited pipe (never the environment, which other
// processes of the same user can read) and its own certificate in
// PLUGIN_CLIENT_CERT, as go-plugin does. Each side trusts exactly the other's
// certificate, and each certificate is self-signed and used by one side only.
//
// A plugin that does not read the pipe (built against another SDK, or plain
// go-plugin) sees only PLUGIN_CLIENT_CERT and answers with go-plugin's
// automatic mTLS; its handshake then carries its own certificate, which the
// host trusts in place of the one it generated.
package pluginmtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// EnvFD names the environment variable that holds the number of the file
// descriptor the plugin reads its key and certificate from.
const EnvFD = "PLANETARY_PLUGIN_TLS_FD"

// EnvClientCert is go-plugin's variable for the host's certificate (PEM).
const EnvClientCert = "PLUGIN_CLIENT_CERT"

// maxBundle bounds what a plugin reads from the descriptor.
const maxBundle = 16 << 10

// Cert is a self-signed certificate and its key.
type Cert struct {
	TLS     tls.Certificate
	CertPEM []byte
	KeyPEM  []byte
	Leaf    *x509.Certificate
}

// NewCert generates a P-256 key and a self-signed certificate for
// "localhost" (the name go-plugin's client dials with).
func NewCert(cn string) (*Cert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pluginmtls: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("pluginmtls: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"planetary"}},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pluginmtls: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pluginmtls: certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pluginmtls: key: %w", err)
	}
	return &Cert{
		TLS:     tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		Leaf:    leaf,
	}, nil
}

// hostIdentity is the host's certificate, made once per process.
var hostIdentity = sync.OnceValues(func() (*Cert, error) { return NewCert("planetary-host") })

// Launch is what the host needs for one plugin launch.
type Launch struct {
	// Env is added to the plugin's environment.
	Env []string
	// File is the read end of the pipe holding the plugin's key and
	// certificate: pass it as the command's only ExtraFiles entry (the child
	// sees it as descriptor 3) and close it once the process has started.
	File *os.File
	// Config is the host's TLS config for this plugin's connection (its own
	// copy: go-plugin replaces RootCAs when the plugin sends a certificate).
	Config *tls.Config
	// roots is the pool trusting the generated plugin certificate.
	roots *x509.CertPool
}

// UsedOwnCert reports whether the connection still trusts the certificate
// generated for the plugin, i.e. the plugin served with it rather than with
// go-plugin's automatic mTLS.
func (l *Launch) UsedOwnCert() bool { return l.Config.RootCAs == l.roots }

// NewLaunch generates the plugin's certificate and writes it, with its key,
// into a pipe.
func NewLaunch() (*Launch, error) {
	host, err := hostIdentity()
	if err != nil {
		return nil, err
	}
	pc, err := NewCert("planetary-plugin")
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pluginmtls: pipe: %w", err)
	}
	bundle := append(append([]byte{}, pc.CertPEM...), pc.KeyPEM...)
	// A pipe buffers 64 KiB; the bundle is well under 2 KiB.
	_, werr := w.Write(bundle)
	cerr := w.Close()
	if err := errors.Join(werr, cerr); err != nil {
		r.Close()
		return nil, fmt.Errorf("pluginmtls: pipe: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pc.Leaf)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{host.TLS},
		RootCAs:      roots,
		ServerName:   "localhost",
		MinVersion:   tls.VersionTLS12,
	}
	return &Launch{
		Env:    []string{EnvClientCert + "=" + string(host.CertPEM), EnvFD + "=3"},
		File:   r,
		Config: cfg,
		roots:  roots,
	}, nil
}

// ServerConfig is the plugin side: when the host passed a descriptor, it
// reads the plugin's key and certificate from it (closing it) and returns a
// TLS config that requires the host's certificate. It returns nil, nil when
// the host passed none (go-plugin's automatic mTLS then applies).
func ServerConfig() (*tls.Config, error) {
	v := os.Getenv(EnvFD)
	if v == "" {
		return nil, nil
	}
	os.Unsetenv(EnvFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("pluginmtls: %s=%q is not a descriptor", EnvFD, v)
	}
	f := os.NewFile(uintptr(fd), "plugin-tls")
	if f == nil {
		return nil, fmt.Errorf("pluginmtls: descriptor %d is not open", fd)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxBundle))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("pluginmtls: read descriptor %d: %w", fd, err)
	}
	own, err := tls.X509KeyPair(b, b)
	if err != nil {
		return nil, fmt.Errorf("pluginmtls: key and certificate: %w", err)
	}
	hostPEM := os.Getenv(EnvClientCert)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(hostPEM)) {
		return nil, fmt.Errorf("pluginmtls: %s holds no certificate", EnvClientCert)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{own},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}, nil
}
