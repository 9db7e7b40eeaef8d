package pluginmtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// serverFromLaunch runs the plugin side of l in this process: the
// descriptor and environment as the child would see them.
func serverFromLaunch(t *testing.T, l *Launch) *tls.Config {
	t.Helper()
	for _, kv := range l.Env {
		k, v, _ := strings.Cut(kv, "=")
		if k == EnvFD {
			v = strconv.Itoa(int(l.File.Fd()))
		}
		t.Setenv(k, v)
	}
	cfg, err := ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg == nil {
		t.Fatal("no server config although the host passed a descriptor")
	}
	return cfg
}

// handshake runs one TLS handshake between cli and srv and returns each
// side's error.
func handshake(t *testing.T, srv, cli *tls.Config) (srvErr, cliErr error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		err = c.(*tls.Conn).Handshake()
		if err == nil {
			// TLS 1.3 reports a refused client certificate on first read.
			_, err = c.Read(make([]byte, 1))
		}
		done <- err
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), cli)
	if err == nil {
		_, err = c.Write([]byte{1})
		if err == nil {
			_, err = c.Read(make([]byte, 1))
		}
		c.Close()
	}
	return <-done, err
}

func TestHandshakeMutual(t *testing.T) {
	l, err := NewLaunch()
	if err != nil {
		t.Fatal(err)
	}
	srv := serverFromLaunch(t, l)
	if k, ok := srv.Certificates[0].PrivateKey.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		t.Fatalf("plugin key %T, want a P-256 ECDSA key", srv.Certificates[0].PrivateKey)
	}
	// The plugin echoes one byte so both sides see a finished handshake.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b := make([]byte, 1)
		if _, err := c.Read(b); err == nil {
			_, _ = c.Write(b)
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), l.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{7}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil || b[0] != 7 {
		t.Fatalf("echo: %v %v", b, err)
	}
	st := c.ConnectionState()
	if got := st.PeerCertificates[0].PublicKeyAlgorithm; got != x509.ECDSA {
		t.Fatalf("plugin key algorithm %v", got)
	}
	if !l.UsedOwnCert() {
		t.Fatal("UsedOwnCert false with the generated certificate in use")
	}
}

// TestForeignCertificatesRefused: the plugin refuses a client that is not
// its host, and the host refuses a server that is not its plugin.
func TestForeignCertificatesRefused(t *testing.T) {
	l, err := NewLaunch()
	if err != nil {
		t.Fatal(err)
	}
	srv := serverFromLaunch(t, l)

	stranger, err := NewCert("stranger")
	if err != nil {
		t.Fatal(err)
	}
	foreignClient := l.Config.Clone()
	foreignClient.Certificates = []tls.Certificate{stranger.TLS}
	if srvErr, _ := handshake(t, srv, foreignClient); srvErr == nil {
		t.Fatal("plugin accepted a client certificate other than its host's")
	}

	noClientCert := l.Config.Clone()
	noClientCert.Certificates = nil
	if srvErr, _ := handshake(t, srv, noClientCert); srvErr == nil {
		t.Fatal("plugin accepted a client without a certificate")
	}

	foreignServer := srv.Clone()
	foreignServer.Certificates = []tls.Certificate{stranger.TLS}
	_, cliErr := handshake(t, foreignServer, l.Config)
	var unknown x509.UnknownAuthorityError
	if !errors.As(cliErr, &unknown) {
		t.Fatalf("host against a foreign server: %v, want an unknown authority error", cliErr)
	}
}

func TestServerConfigWithoutDescriptor(t *testing.T) {
	t.Setenv(EnvFD, "")
	cfg, err := ServerConfig()
	if cfg != nil || err != nil {
		t.Fatalf("got %v, %v; want nil, nil (automatic mTLS)", cfg, err)
	}
	t.Setenv(EnvFD, "x")
	if _, err := ServerConfig(); err == nil || !strings.Contains(err.Error(), EnvFD) {
		t.Fatalf("bad descriptor: %v", err)
	}
}

func TestHostIdentityOncePerProcess(t *testing.T) {
	a, err := NewLaunch()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewLaunch()
	if err != nil {
		t.Fatal(err)
	}
	defer a.File.Close()
	defer b.File.Close()
	if !a.Config.Certificates[0].Leaf.Equal(b.Config.Certificates[0].Leaf) {
		t.Fatal("host certificate differs between launches")
	}
	if a.roots.Equal(b.roots) {
		t.Fatal("two launches share a plugin certificate")
	}
}

func BenchmarkNewLaunch(b *testing.B) {
	for b.Loop() {
		l, err := NewLaunch()
		if err != nil {
			b.Fatal(err)
		}
		l.File.Close()
	}
}
