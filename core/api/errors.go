package api

import "errors"

// Sentinel errors of package api.
var (
	// ErrNoBackend is returned by New when Config.Backend is nil.
	ErrNoBackend = errors.New("api: no backend")
	// ErrBadConfig is returned by New for an invalid Config.
	ErrBadConfig = errors.New("invalid API config")
)
