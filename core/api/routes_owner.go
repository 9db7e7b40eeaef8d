package api

import (
	"errors"
	"io"
	"net/http"

	"github.com/planetary/planetary/core/ownercmd"
)

// ownerRoutes registers a route per described owner command
// (core/ownercmd): POST /v1/<noun>/{<arg>}/<verb>, whose JSON body holds the
// command's params by name and the reason.
func (h *HTTP) ownerRoutes() {
	for _, s := range ownercmd.All() {
		h.handle(ownercmd.Route(s), accessManagement, true, h.described(s))
	}
}

func (h *HTTP) described(s ownercmd.Spec) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
		if err != nil {
			return nil, decodeError(err, "")
		}
		c, err := ownercmd.Decode(s, r.PathValue(s.Arg().Name), body)
		var fe *ownercmd.FieldError
		if errors.As(err, &fe) {
			return nil, badRequest(fe.Field, "%s", fe.Msg)
		}
		if err != nil {
			return nil, err
		}
		return written(h.b.Command(r.Context(), actor(r), c))
	}
}
