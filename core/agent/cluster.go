package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/core/tlsutil"
)

// ErrNoJoin is returned when bootstrap_expect > 1 and no join address is set.
var ErrNoJoin = errors.New("agent: bootstrap_expect > 1 needs join addresses (server { join = [...] })")

// memberSyncInterval is how often a server asks its peers for their API
// addresses.
const memberSyncInterval = time.Second

// loadTLS reads the agent's tls block (nil when TLS is off).
func (a *Agent) loadTLS() error {
	t := a.cfg.Agent.TLS
	cfg, err := tlsutil.Load(tlsutil.Config{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile})
	if err != nil {
		return fmt.Errorf("agent: tls: %w", err)
	}
	a.tls = cfg
	return nil
}

// TLS is the agent's mutual TLS config (nil when off).
func (a *Agent) TLS() *tls.Config { return a.tls }

// peerClient is an API client for another server's HTTP address.
func (a *Agent) peerClient(addr string) (*api.Client, error) {
	return api.NewClient(api.ClientConfig{Address: addr, Token: a.token, TLS: a.tls, HTTPClient: a.peerHTTP})
}

// formCluster joins this server to its cluster, or bootstraps one.
//
// Join addresses are other servers' HTTP API addresses. A server whose data
// dir already holds raft state does nothing (raft reconnects it and it
// catches up by log or snapshot). Otherwise it polls GET /v1/status/self
// of every join address until either some peer already belongs to a
// cluster with a leader (then it asks to be added: POST
// /v1/operator/raft/join, forwarded to the leader, which adds it as a
// voter), or, with bootstrap_expect N > 1, N servers without state (itself
// included) answer: then each of them bootstraps the same configuration of
// those N servers, and raft elects a leader among them.
func (a *Agent) formCluster(ctx context.Context) error {
	ac := a.cfg.Agent
	srv := a.srv
	srv.SetHTTPAddr(srv.ID(), a.HTTPAddr())
	expect := int(ac.Server.BootstrapExpect)
	join := ac.Server.Join
	if srv.HasState() || len(join) == 0 {
		if expect > 1 && !srv.HasState() {
			return ErrNoJoin
		}
		return nil
	}
	self := server.PeerAddr{ID: srv.ID(), Address: srv.LocalAddr()}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for attempt := 0; ; attempt++ {
		// A peer that bootstrapped a configuration naming this server has
		// replicated it here once elected: nothing is left to join.
		if srv.IsMember() {
			a.log.Info("in the cluster's configuration")
			return nil
		}
		fresh := []server.PeerAddr{self}
		var members []string
		for _, addr := range join {
			c, err := a.peerClient(addr)
			if err != nil {
				return err
			}
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			si, err := c.Self(pctx)
			cancel()
			if err != nil || si.ID == srv.ID() {
				continue
			}
			srv.SetHTTPAddr(si.ID, c.Address())
			srv.SetFormatVersion(si.ID, si.FormatVersion)
			if si.HasState && si.LeaderID != "" {
				members = append(members, c.Address())
			} else if !si.HasState {
				fresh = append(fresh, server.PeerAddr{ID: si.ID, Address: si.RaftAddr})
			}
		}
		for _, addr := range members {
			c, err := a.peerClient(addr)
			if err != nil {
				return err
			}
			_, err = c.RaftJoin(ctx, api.RaftJoin{ID: self.ID, RaftAddr: self.Address, HTTPAddr: a.HTTPAddr()})
			if err == nil {
				a.log.Info("joined the cluster", "via", addr)
				return nil
			}
			a.log.Warn("join failed; retrying", "via", addr, "error", err)
		}
		if expect > 1 && len(members) == 0 && len(fresh) >= expect {
			a.log.Info("bootstrapping the cluster", "servers", len(fresh))
			return srv.BootstrapCluster(fresh)
		}
		if attempt%25 == 0 {
			a.log.Info("waiting for cluster peers", "expect", expect, "seen", len(fresh), "join", join)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("agent: forming the cluster: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// syncMembers keeps the id -> API address table of the server role fresh:
// every memberSyncInterval it asks the join addresses and every server it
// knows for GET /v1/status/self, so a follower can find the leader's API.
func (a *Agent) syncMembers(ctx context.Context) {
	t := time.NewTicker(memberSyncInterval)
	defer t.Stop()
	for {
		seen := map[string]bool{a.HTTPAddr(): true}
		addrs := append([]string(nil), a.cfg.Agent.Server.Join...)
		for _, v := range a.srv.HTTPAddrs() {
			addrs = append(addrs, v)
		}
		for _, addr := range addrs {
			c, err := a.peerClient(addr)
			if err != nil || seen[c.Address()] {
				continue
			}
			seen[c.Address()] = true
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			si, err := c.Self(pctx)
			cancel()
			if err != nil {
				continue
			}
			a.srv.SetHTTPAddr(si.ID, c.Address())
			a.srv.SetFormatVersion(si.ID, si.FormatVersion)
			for id, h := range si.Members {
				if a.srv.HTTPAddrOf(id) == "" {
					a.srv.SetHTTPAddr(id, h)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
