package api

import (
	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/state"
)

// The msgpack layout of GET /v1/events is defined with its decoder in
// core/api/client (client.EventPageWriter). client.Event has state.Event's
// fields, so a log event converts to it without a copy.

// eventPageWriter builds a page from the log's events as they are scanned.
type eventPageWriter struct{ w *client.EventPageWriter }

// newEventPageWriter starts a page of about events events (a hint).
func newEventPageWriter(events int) *eventPageWriter {
	return &eventPageWriter{w: client.NewEventPageWriter(events)}
}

func (w *eventPageWriter) add(e *state.Event) { w.w.Add((*client.Event)(e)) }

// finish appends index and head and returns the page.
func (w *eventPageWriter) finish(index, head uint64) []byte { return w.w.Finish(index, head) }
