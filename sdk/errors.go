package sdk

import "errors"

// ErrBadValue is returned for a config value that is not a string, number,
// bool or list of strings.
var ErrBadValue = errors.New("config value must be a string, number, bool or list of strings")

// ErrTaskPanicked is reported for a task whose Execute panicked.
var ErrTaskPanicked = errors.New("task panicked")
