package tlsutil_test

import (
	"crypto/tls"
	"errors"
	"io"
	"testing"

	"github.com/planetary/planetary/core/tlsutil"
)

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlsutil.NewTestCA(dir, "planetary")
	if err != nil {
		t.Fatal(err)
	}
	other, err := tlsutil.NewTestCA(dir, "other")
	if err != nil {
		t.Fatal(err)
	}
	srvFiles, err := ca.Issue("server")
	if err != nil {
		t.Fatal(err)
	}
	srvTLS, err := tlsutil.Load(srvFiles)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srvTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	cases := []struct {
		name string
		ca   *tlsutil.TestCA
		ok   bool
	}{
		{"same CA", ca, true},
		{"foreign CA", other, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files, err := tc.ca.Issue("client-" + tc.name[:4])
			if err != nil {
				t.Fatal(err)
			}
			files.CAFile = ca.CAFile // trust the server either way
			cfg, err := tlsutil.Load(files)
			if err != nil {
				t.Fatal(err)
			}
			c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
			if err == nil {
				_, err = c.Write([]byte("x"))
				if err == nil {
					b := make([]byte, 1)
					_, err = io.ReadFull(c, b)
				}
				c.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("handshake error %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	cfg, err := tlsutil.Load(tlsutil.Config{})
	if err != nil || cfg != nil {
		t.Fatalf("empty config: %v %v", cfg, err)
	}
	if _, err := tlsutil.Load(tlsutil.Config{CAFile: "x"}); !errors.Is(err, tlsutil.ErrIncomplete) {
		t.Fatalf("partial config: %v", err)
	}
}
