package sdk

import "errors"

// ErrBadValue is returned for a config value that is not a string, number,
// bool or list of strings.
var ErrBadValue = errors.New("config value must be a string, number, bool or list of strings")

// ErrTaskPanicked is reported for a task whose Execute panicked.
var ErrTaskPanicked = errors.New("task panicked")

// MaxMessageBytes is the largest message either end of a plugin's gRPC
// connection receives (gRPC's default receive limit, which go-plugin keeps).
// The host refuses to send a task whose encoding is larger
// (host.ErrUndeliverable), and an agent's result that would be larger is
// replaced by an error outcome, so one oversized message never ends the
// execute stream that carries every other task of the node.
const MaxMessageBytes = 4 << 20
