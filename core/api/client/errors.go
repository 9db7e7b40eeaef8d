package client

import "errors"

// ErrBadAddress is returned by NewClient for an unusable address.
var ErrBadAddress = errors.New("bad API address")
