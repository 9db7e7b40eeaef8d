package state

import "github.com/tinylib/msgp/msgp"

func skipOne(b []byte) ([]byte, error) { return msgp.Skip(b) }
