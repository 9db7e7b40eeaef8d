package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// clientJoin issues a client agent its own identity. The caller is a
// client join credential (acl token create -type client), a management
// token, or the client's identity itself (then nothing is issued: the
// answer confirms the identity is live). Every refusal is decided on local
// state before anything is proposed.
func (h *HTTP) clientJoin(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ClientJoin
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if req.Client == "" {
		return nil, badRequest("client", "client is required")
	}
	if strings.ContainsAny(req.Client, " \t\r\n/") {
		return nil, badRequest("client", "client name %q holds a space or a slash", req.Client)
	}
	id := caller(r)
	if own := id.client(); own != "" {
		if err := checkClient(r, req.Client); err != nil {
			return nil, err
		}
		return ClientJoined{Client: own, AccessorID: id.Accessor}, nil
	}
	var old state.Token
	var joined bool
	h.b.Read(func(s *state.Store) { old, joined = s.ClientIdentity(req.Client) })
	if joined {
		if old.RevokedAt != 0 {
			return nil, &apiError{status: http.StatusForbidden, field: "client", msg: fmt.Sprintf(
				"client %s was revoked and cannot join again; start the host under another agent name", req.Client)}
		}
		return nil, &apiError{status: http.StatusConflict, field: "client", msg: fmt.Sprintf(
			"client %s already holds an identity (accessor %s), kept in that host's data dir (%s); "+
				"a host that lost it joins under another agent name, and `planetary acl client revoke %s` retires the old one",
			req.Client, old.AccessorID, IdentityFile, req.Client)}
	}
	tok, secret, err := h.newToken(req.Client, state.TokenClientIdentity)
	if err != nil {
		return nil, err
	}
	// Only the secret's sha256 is replicated; the secret goes to the client.
	if _, err := h.b.Apply(r.Context(), command.ClientJoinType, &command.ClientJoin{Meta: h.meta(r, "client join"), Token: tok}); err != nil {
		return nil, err
	}
	return ClientJoined{Client: req.Client, AccessorID: tok.AccessorID, Secret: secret}, nil
}

// clientRevoke revokes a client agent's identity.
func (h *HTTP) clientRevoke(w http.ResponseWriter, r *http.Request) (any, error) {
	name := r.PathValue("name")
	var req ClientRevoke
	if r.ContentLength != 0 {
		if err := h.decode(w, r, &req); err != nil {
			return nil, err
		}
	}
	var old state.Token
	var joined bool
	h.b.Read(func(s *state.Store) { old, joined = s.ClientIdentity(name) })
	if !joined {
		return nil, notFound("client %s holds no identity", name)
	}
	if old.RevokedAt != 0 {
		return nil, &apiError{status: http.StatusConflict, msg: fmt.Sprintf("client %s is already revoked", name)}
	}
	return h.apply(r, command.ClientRevokeType, &command.ClientRevoke{Meta: h.meta(r, req.Reason), Client: name})
}
