package link

import (
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// The msgpack forms are tuples: a message is [seq, kind, id, body], a
// request body [to, [message...]], an answer [through]. A reader accepts a
// longer tuple and skips the fields it does not know, so fields can be added
// at the end.
const (
	messageFields = 4
	requestFields = 2
	answerFields  = 1
)

func appendMessage(b []byte, m Message) []byte {
	b = msgp.AppendArrayHeader(b, messageFields)
	b = msgp.AppendUint64(b, m.Seq)
	b = msgp.AppendString(b, m.Kind)
	b = msgp.AppendString(b, m.ID)
	return msgp.AppendBytes(b, m.Body)
}

func readMessage(b []byte) (Message, []byte, error) {
	var m Message
	n, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return m, b, err
	}
	if n < messageFields {
		return m, b, fmt.Errorf("a message of %d fields, want %d", n, messageFields)
	}
	if m.Seq, b, err = msgp.ReadUint64Bytes(b); err != nil {
		return m, b, fmt.Errorf("seq: %w", err)
	}
	if m.Kind, b, err = msgp.ReadStringBytes(b); err != nil {
		return m, b, fmt.Errorf("kind: %w", err)
	}
	if m.ID, b, err = msgp.ReadStringBytes(b); err != nil {
		return m, b, fmt.Errorf("id: %w", err)
	}
	if m.Body, b, err = msgp.ReadBytesBytes(b, nil); err != nil {
		return m, b, fmt.Errorf("body: %w", err)
	}
	if len(m.Body) == 0 {
		m.Body = nil
	}
	b, err = skip(b, n-messageFields)
	return m, b, err
}

func skip(b []byte, n uint32) ([]byte, error) {
	var err error
	for range n {
		if b, err = msgp.Skip(b); err != nil {
			return b, err
		}
	}
	return b, nil
}

// encodeRequest is the msgpack body of a batch's request.
func encodeRequest(b Batch) []byte {
	size := 16 + len(b.To)
	for _, m := range b.Msgs {
		size += m.size() + 8
	}
	out := make([]byte, 0, size)
	out = msgp.AppendArrayHeader(out, requestFields)
	out = msgp.AppendString(out, b.To)
	out = msgp.AppendArrayHeader(out, uint32(len(b.Msgs)))
	for _, m := range b.Msgs {
		out = appendMessage(out, m)
	}
	return out
}

// decodeRequest reads a msgpack request body; the error names the field.
func decodeRequest(body []byte) (to string, msgs []Message, err error) {
	n, body, err := msgp.ReadArrayHeaderBytes(body)
	if err != nil {
		return "", nil, fmt.Errorf("body: %w", err)
	}
	if n < requestFields {
		return "", nil, fmt.Errorf("body: a request of %d fields, want %d", n, requestFields)
	}
	if to, body, err = msgp.ReadStringBytes(body); err != nil {
		return "", nil, fmt.Errorf("to: %w", err)
	}
	count, body, err := msgp.ReadArrayHeaderBytes(body)
	if err != nil {
		return "", nil, fmt.Errorf("msgs: %w", err)
	}
	if count > MaxBatchMessages {
		return "", nil, fmt.Errorf("msgs: %d messages, at most %d", count, MaxBatchMessages)
	}
	msgs = make([]Message, count)
	for i := range msgs {
		if msgs[i], body, err = readMessage(body); err != nil {
			return "", nil, fmt.Errorf("msgs[%d]: %w", i, err)
		}
	}
	if _, err = skip(body, n-requestFields); err != nil {
		return "", nil, fmt.Errorf("body: %w", err)
	}
	return to, msgs, nil
}

func encodeAnswer(through uint64) []byte {
	b := msgp.AppendArrayHeader(make([]byte, 0, 12), answerFields)
	return msgp.AppendUint64(b, through)
}

func decodeAnswer(b []byte) (uint64, error) {
	n, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return 0, err
	}
	if n < answerFields {
		return 0, fmt.Errorf("an answer of %d fields, want %d", n, answerFields)
	}
	through, _, err := msgp.ReadUint64Bytes(b)
	if err != nil {
		return 0, fmt.Errorf("through: %w", err)
	}
	return through, nil
}
