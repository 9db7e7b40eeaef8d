package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/planetary/planetary/core/api/client"
)

// ErrUnknownServer is returned for a raft server id not in the configuration.
var ErrUnknownServer = errors.New("server: unknown raft server")

// PeerAddr is a raft server's id and raft address.
type PeerAddr struct {
	ID      string `json:"id"`
	Address string `json:"raft_addr"`
}

// SelfInfo describes this server as it sees itself (GET /v1/status/self);
// the wire type is defined with the API client.
type SelfInfo = client.SelfInfo

// members maps raft server ids to their HTTP API addresses. It is learned,
// not replicated: each server announces its own address when it joins and
// answers it on GET /v1/status/self, and every server keeps polling its
// peers (see core/agent), so any server can find the leader's API.
type members struct {
	mu   sync.RWMutex
	http map[string]string
	// version is the command format version each server reports.
	version map[string]uint16
}

// SetHTTPAddr records the HTTP API address (base URL) of server id.
func (s *Server) SetHTTPAddr(id, addr string) {
	if id == "" || addr == "" {
		return
	}
	s.mem.mu.Lock()
	defer s.mem.mu.Unlock()
	if s.mem.http == nil {
		s.mem.http = map[string]string{}
	}
	s.mem.http[id] = addr
}

// HTTPAddrOf returns the known HTTP API address of server id ("" if none).
func (s *Server) HTTPAddrOf(id string) string {
	s.mem.mu.RLock()
	defer s.mem.mu.RUnlock()
	return s.mem.http[id]
}

// HTTPAddrs returns a copy of the id -> HTTP address table.
func (s *Server) HTTPAddrs() map[string]string {
	s.mem.mu.RLock()
	defer s.mem.mu.RUnlock()
	out := make(map[string]string, len(s.mem.http))
	for k, v := range s.mem.http {
		out[k] = v
	}
	return out
}

// LeaderHTTPAddr is the current leader's HTTP API address, "" when there is
// no leader or its address is not known yet.
func (s *Server) LeaderHTTPAddr() string {
	_, id := s.raft.LeaderWithID()
	if id == "" {
		return ""
	}
	return s.HTTPAddrOf(string(id))
}

// ID is this server's raft id.
func (s *Server) ID() string { return s.cfg.NodeID }

// HasState reports whether this server holds a raft configuration (it was
// bootstrapped or has joined a cluster).
func (s *Server) HasState() bool {
	f := s.raft.GetConfiguration()
	return f.Error() == nil && len(f.Configuration().Servers) > 0
}

// IsMember reports whether the raft configuration this server holds names
// it (as bootstrapped, or as replicated to it by a leader that added it).
func (s *Server) IsMember() bool {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, srv := range f.Configuration().Servers {
		if string(srv.ID) == s.cfg.NodeID {
			return true
		}
	}
	return false
}

// Self describes this server.
func (s *Server) Self() SelfInfo {
	la, lid := s.raft.LeaderWithID()
	st := s.raft.State()
	lc := int64(-1)
	if st == raft.Leader {
		lc = 0
	} else if t := s.raft.LastContact(); !t.IsZero() {
		lc = time.Since(t).Milliseconds()
	}
	return SelfInfo{
		ID: s.cfg.NodeID, RaftAddr: s.LocalAddr(), HTTPAddr: s.HTTPAddrOf(s.cfg.NodeID),
		State: st.String(), Leader: st == raft.Leader, LeaderID: string(lid), LeaderAddr: string(la),
		Term: s.raft.CurrentTerm(), AppliedIndex: s.fsm.AppliedIndex(), CommitIndex: s.raft.CommitIndex(),
		LastIndex: s.raft.LastIndex(), LastContactMs: lc, HasState: s.HasState(), Members: s.HTTPAddrs(),
		FormatVersion: s.formatVersion(), Halted: haltText(s.Halted()),
	}
}

// Digest is the sha256 of the FSM's snapshot stream and the applied index
// it was taken at (replicas at the same index must have the same digest).
func (s *Server) Digest() (digest [32]byte, index uint64) {
	for {
		before := s.fsm.AppliedIndex()
		digest = s.fsm.Digest()
		if after := s.fsm.AppliedIndex(); after == before {
			return digest, after
		}
	}
}

// BootstrapCluster bootstraps a new cluster of the given voters (this server
// among them). Every server of a new cluster may call it with the same
// list; raft refuses it (ErrCantBootstrap, ignored here) on a server that
// already holds state.
func (s *Server) BootstrapCluster(peers []PeerAddr) error {
	sorted := append([]PeerAddr(nil), peers...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	var cfg raft.Configuration
	for _, p := range sorted {
		cfg.Servers = append(cfg.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Address)})
	}
	s.logger.Info("bootstrapping cluster", "servers", len(cfg.Servers))
	if err := s.raft.BootstrapCluster(cfg).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("server: bootstrap: %w", err)
	}
	return nil
}

// TransferLeadership hands leadership to server id, or to the most
// up-to-date follower when id is empty (leader only).
func (s *Server) TransferLeadership(ctx context.Context, id string) error {
	if !s.IsLeader() {
		return ErrNotLeader
	}
	var f raft.Future
	if id == "" {
		f = s.raft.LeadershipTransfer()
	} else {
		peers, err := s.Peers()
		if err != nil {
			return err
		}
		addr := ""
		for _, p := range peers {
			if p.ID == id {
				addr = p.Address
			}
		}
		if addr == "" {
			return fmt.Errorf("%w: %s", ErrUnknownServer, id)
		}
		f = s.raft.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(addr))
	}
	if err := s.waitFuture(ctx, f); err != nil {
		return fmt.Errorf("server: transfer leadership: %w", mapRaftErr(err))
	}
	return nil
}

// streamLayer is raft's stream layer over TCP, optionally wrapped in TLS and
// with a replaceable dialer (tests route raft traffic through proxies).
type streamLayer struct {
	net.Listener
	adv  net.Addr
	tls  *tls.Config
	dial func(address string, timeout time.Duration) (net.Conn, error)
}

func newStreamLayer(bind string, adv net.Addr, tlsCfg *tls.Config, dial func(string, time.Duration) (net.Conn, error)) (*streamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("server: raft listener: %w", err)
	}
	if adv == nil {
		adv = ln.Addr()
	}
	if ta, ok := adv.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("server: raft address %s is not advertisable; set AdvertiseAddr", adv)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	if dial == nil {
		dial = func(a string, t time.Duration) (net.Conn, error) { return net.DialTimeout("tcp", a, t) }
	}
	return &streamLayer{Listener: ln, adv: adv, tls: tlsCfg, dial: dial}, nil
}

// Addr is the advertised address.
func (l *streamLayer) Addr() net.Addr { return l.adv }

// Dial implements raft.StreamLayer. Over TLS the handshake completes here,
// so a peer with a certificate from another CA fails the dial.
func (l *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := l.dial(string(address), timeout)
	if err != nil || l.tls == nil {
		return c, err
	}
	cfg := l.tls.Clone()
	if cfg.ServerName == "" {
		if h, _, err := net.SplitHostPort(string(address)); err == nil {
			cfg.ServerName = h
		}
	}
	tc := tls.Client(c, cfg)
	_ = tc.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, fmt.Errorf("server: raft TLS handshake with %s: %w", address, err)
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}

var _ raft.StreamLayer = (*streamLayer)(nil)

// WaitReady returns once this server leads and its leadership barrier has
// passed (every entry of earlier terms is applied, so checks against local
// state are current), ErrNotLeader as soon as it does not lead, or ctx's
// error.
func (s *Server) WaitReady(ctx context.Context) error {
	if s.leading.Load() {
		return nil
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !s.leading.Load() {
		if !s.IsLeader() {
			return ErrNotLeader
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.shutdownCtx.Done():
			return ErrShutdown
		case <-t.C:
		}
	}
	return nil
}
