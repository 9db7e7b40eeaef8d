package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/planetary/planetary/core/api/client"
)

// The client protocol's compact encoding (client.MsgpackType) is defined
// with the Go client in core/api/client; the server encodes and decodes it
// through that package's codec.

// accepts reports whether the request's Accept header lists typ.
func accepts(r *http.Request, typ string) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == typ {
				return true
			}
		}
	}
	return false
}

// hasContentType reports whether the request body is of type typ.
func hasContentType(h http.Header, typ string) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == typ
}

// appendAssignments appends one stream frame holding batch.
func appendAssignments(b []byte, batch []Assignment) []byte {
	return client.AppendAssignments(b, batch)
}

// decodeResults parses a results body; trailing bytes are an error.
func decodeResults(b []byte) (ClientResults, error) { return client.DecodeResults(b) }

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, &apiError{status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("request body larger than %d bytes", mbe.Limit)}
	case err != nil:
		return nil, badRequest("", "read request body: %v", err)
	}
	return b, nil
}
