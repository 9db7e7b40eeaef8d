package server

import (
	"context"
	"encoding/hex"
	"errors"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// StoreReplicatedToken stores an ACL token as region from, the ACL region
// of the host, holds it: the region host calls it for each token record
// the ACL region replicates to this server's region. Only the record
// travels (its secret's sha256, never the secret). It is idempotent by
// accessor id: a token this region already holds is Duplicate and proposes
// nothing, so redelivery never stores a second token. A token it does not
// hold is proposed as the command that stores it in the ACL region: a
// client identity as ClientJoin, the first management token of a region
// not yet bootstrapped as ACLBootstrap (so the region is bootstrapped as
// its ACL region is), any other as ACLTokenCreate. A record carrying a
// revocation the region has not applied proposes ClientRevoke (the region
// stamps its own revocation time). A record that conflicts with what the
// region holds (another secret or type under the accessor, a secret or a
// client name another accessor holds) is refused before anything is
// proposed, a *RequestError naming the field.
func (s *Server) StoreReplicatedToken(ctx context.Context, from string, tok state.Token) (raftfsm.OutcomeStatus, error) {
	if from == s.Region() {
		return 0, invalid("region", "region: token replicated from region %s, this server's own region", from)
	}
	if err := checkReplicatedToken(tok); err != nil {
		return 0, err
	}
	var (
		have, byHash, ident          state.Token
		held, hashHeld, identityHeld bool
		bootstrapped                 bool
	)
	s.fsm.Read(func(st *state.Store) {
		have, held = st.Token(tok.AccessorID)
		byHash, hashHeld = st.TokenByHash(tok.SecretHash)
		if tok.Type == state.TokenClientIdentity {
			ident, identityHeld = st.ClientIdentity(tok.Name)
		}
		bootstrapped = st.ACLBootstrapped()
	})
	meta := command.Meta{Time: s.Now(), Actor: "region:" + from, Reason: "replicated from region " + from}
	switch {
	case held && have.SecretHash != tok.SecretHash:
		return 0, invalid("secret_hash", "secret_hash: accessor %s holds another secret in region %s", tok.AccessorID, s.Region())
	case held && have.Type != tok.Type:
		return 0, invalid("type", "type: accessor %s is a %s token in region %s, not %s", tok.AccessorID, have.Type, s.Region(), tok.Type)
	case held && (tok.RevokedAt == 0 || have.RevokedAt != 0):
		return raftfsm.Duplicate, nil
	case held:
		return s.revokeReplicated(ctx, meta, tok)
	case hashHeld:
		return 0, invalid("secret_hash", "secret_hash: the secret of accessor %s is accessor %s's in region %s",
			tok.AccessorID, byHash.AccessorID, s.Region())
	case identityHeld:
		return 0, invalid("name", "name: client %s holds identity %s in region %s, not %s",
			tok.Name, ident.AccessorID, s.Region(), tok.AccessorID)
	}

	live := tok
	live.RevokedAt = 0
	var err error
	switch {
	case tok.Type == state.TokenClientIdentity:
		_, err = s.Apply(ctx, command.ClientJoinType, &command.ClientJoin{Meta: meta, Token: live})
	case tok.Type == state.TokenManagement && !bootstrapped:
		_, err = s.Apply(ctx, command.ACLBootstrapType, &command.ACLBootstrap{Time: meta.Time, Token: live})
		if errors.Is(err, raftfsm.ErrACLBootstrapped) { // bootstrapped since the read
			_, err = s.Apply(ctx, command.ACLTokenCreateType, &command.ACLTokenCreate{Meta: meta, Token: live})
		}
	default:
		_, err = s.Apply(ctx, command.ACLTokenCreateType, &command.ACLTokenCreate{Meta: meta, Token: live})
	}
	switch {
	case errors.Is(err, raftfsm.ErrTokenExists):
		// Stored since the read: by accessor a redelivery, by secret a
		// conflict the next delivery names.
		return raftfsm.Duplicate, nil
	case err != nil:
		return 0, err
	case tok.RevokedAt != 0:
		return s.revokeReplicated(ctx, meta, tok)
	}
	return raftfsm.Applied, nil
}

// revokeReplicated proposes the revocation of the client identity tok.
func (s *Server) revokeReplicated(ctx context.Context, meta command.Meta, tok state.Token) (raftfsm.OutcomeStatus, error) {
	_, err := s.Apply(ctx, command.ClientRevokeType, &command.ClientRevoke{Meta: meta, Client: tok.Name})
	switch {
	case errors.Is(err, raftfsm.ErrClientRevoked):
		return raftfsm.Duplicate, nil
	case err != nil:
		return 0, err
	}
	return raftfsm.Applied, nil
}

// checkReplicatedToken refuses a token record no region could have stored,
// naming the field.
func checkReplicatedToken(tok state.Token) error {
	switch {
	case tok.AccessorID == "":
		return invalid("accessor_id", "accessor_id is required")
	case len(tok.SecretHash) != 64 || !isHex(tok.SecretHash):
		return invalid("secret_hash", "secret_hash: %q is not a hex sha256", tok.SecretHash)
	case tok.Type < state.TokenRead || tok.Type > state.TokenClientIdentity:
		return invalid("type", "type: %d is not a token type", tok.Type)
	case tok.Name == "":
		return invalid("name", "name is required")
	case tok.RevokedAt != 0 && tok.Type != state.TokenClientIdentity:
		return invalid("revoked_at", "revoked_at: a %s token cannot be revoked, only a client identity", tok.Type)
	}
	if tok.Type == state.TokenClientIdentity {
		if err := ValidClientName(tok.Name); err != nil {
			return invalid("name", "name: %v", err)
		}
	}
	return nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}
