package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/cli"

	"github.com/planetary/planetary/core/tlsutil"

	api "github.com/planetary/planetary/core/api/client"
)

// Meta holds what every command shares: the Ui and the API flags.
type Meta struct {
	Ui cli.Ui

	address    string
	token      string
	json       bool
	stale      bool
	caCert     string
	clientCert string
	clientKey  string
}

// FlagSet builds a stdlib flag set with the shared API flags.
func (m *Meta) FlagSet(name string, api bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(discard{})
	if api {
		fs.StringVar(&m.address, "address", "", "")
		fs.StringVar(&m.token, "token", "", "")
		fs.BoolVar(&m.json, "json", false, "")
		fs.BoolVar(&m.stale, "stale", false, "")
		fs.StringVar(&m.caCert, "ca-cert", "", "")
		fs.StringVar(&m.clientCert, "client-cert", "", "")
		fs.StringVar(&m.clientKey, "client-key", "", "")
	}
	return fs
}

// Address is the API address: -address, then PLANETARY_ADDR, then the default.
func (m *Meta) Address() string {
	if m.address != "" {
		return m.address
	}
	if a := os.Getenv("PLANETARY_ADDR"); a != "" {
		return a
	}
	return "http://127.0.0.1:4646"
}

// Token is the ACL secret: -token, then PLANETARY_TOKEN.
func (m *Meta) Token() string {
	if m.token != "" {
		return m.token
	}
	return os.Getenv("PLANETARY_TOKEN")
}

// tokenFromFlag is TokenSource() for a -token flag.
const tokenFromFlag = "the -token flag"

// TokenSource says where Token() came from.
func (m *Meta) TokenSource() string {
	switch {
	case m.token != "":
		return tokenFromFlag
	case os.Getenv("PLANETARY_TOKEN") != "":
		return "PLANETARY_TOKEN"
	}
	return "none"
}

// client returns an API client for Address() and Token().
func (m *Meta) client() (*api.Client, error) {
	cfg := api.ClientConfig{Address: m.Address(), Token: m.Token(), Stale: m.stale}
	if m.caCert != "" || m.clientCert != "" || m.clientKey != "" {
		tc := tlsutil.FromEnv()
		if m.caCert != "" {
			tc.CAFile = m.caCert
		}
		if m.clientCert != "" {
			tc.CertFile = m.clientCert
		}
		if m.clientKey != "" {
			tc.KeyFile = m.clientKey
		}
		t, err := tlsutil.Load(tc)
		if err != nil {
			return nil, fmt.Errorf("TLS: %w", err)
		}
		cfg.TLS = t
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("create API client: %w", err)
	}
	return c, nil
}

// printJSON writes v as indented JSON.
func (m *Meta) printJSON(v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		m.Ui.Error(fmt.Sprintf("Error encoding JSON: %v", err))
		return 1
	}
	m.Ui.Output(string(b))
	return 0
}

// fail prints one readable error line and returns exit code 1.
func (m *Meta) fail(format string, args ...any) int {
	m.Ui.Error(strings.TrimSpace(fmt.Sprintf(format, args...)))
	return 1
}

// parse parses flags and reports a usage error the hashicorp/cli way.
func (m *Meta) parse(fs *flag.FlagSet, args []string) bool {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return false
		}
		m.Ui.Error(err.Error())
		return false
	}
	return true
}

const apiOptionsHelp = `
API Options:

  -address=<addr>
    The address of the planetary agent's HTTP API. Overrides PLANETARY_ADDR.
    Default: http://127.0.0.1:4646

  -token=<secret>
    The ACL token secret. Overrides PLANETARY_TOKEN.

  -json
    Print the result as JSON.

  -stale
    Let any server answer a read from its own state, which may lag the
    leader's. By default reads are forwarded to the leader.

  -ca-cert=<file> -client-cert=<file> -client-key=<file>
    Mutual TLS with the agent's HTTPS API. Override PLANETARY_CACERT,
    PLANETARY_CLIENT_CERT and PLANETARY_CLIENT_KEY.`

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
