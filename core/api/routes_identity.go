package api

import (
	"net/http"

	"github.com/planetary/planetary/core/server"
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
	if err := server.ValidClientName(req.Client); err != nil {
		return nil, err
	}
	id := caller(r)
	if own := id.client(); own != "" {
		if err := checkClient(r, req.Client); err != nil {
			return nil, err
		}
		return ClientJoined{Client: own, AccessorID: id.Accessor}, nil
	}
	tok, secret, err := newToken(req.Client, state.TokenClientIdentity)
	if err != nil {
		return nil, err
	}
	// Only the secret's sha256 is replicated; the secret goes to the client.
	if tok, _, err = h.b.JoinClient(r.Context(), actor(r), tok); err != nil {
		return nil, err
	}
	return ClientJoined{Client: req.Client, AccessorID: tok.AccessorID, Secret: secret}, nil
}

// clientRevoke revokes a client agent's identity.
func (h *HTTP) clientRevoke(r *http.Request, req ClientRevoke) (server.Result, error) {
	return h.b.RevokeClient(r.Context(), actor(r), command.ClientRevoke{Meta: reason(req.Reason), Client: r.PathValue("name")})
}
