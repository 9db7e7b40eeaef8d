package link

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// TestHTTPEncodings sends the same batches in msgpack and in JSON over real
// HTTP on loopback, through a mux that mounts the handler at
// POST /v1/link/{from}: bodies with every byte value arrive as sent, a
// retransmitted batch is a no-op, and a probe answers the through.
func TestHTTPEncodings(t *testing.T) {
	for _, useJSON := range []bool{false, true} {
		name := "msgpack"
		if useJSON {
			name = "json"
		}
		t.Run(name, func(t *testing.T) {
			in := NewMemory()
			h := NewHandler()
			h.Add("mars", in)
			mux := http.NewServeMux()
			mux.Handle("POST /v1/link/{from}", h)
			addr := loopback(t)
			serve(t, addr, mux)
			tr := httpTransport(t, HTTPConfig{Addresses: map[string]string{"mars": "http://" + addr + "/"}, JSON: useJSON})

			body := make([]byte, 256)
			for i := range body {
				body[i] = byte(i)
			}
			msgs := []Message{{Seq: 1, Kind: "checkpoint", ID: "c-1", Body: body}, {Seq: 2, Kind: "handoff"}}
			ctx := context.Background()
			for range 2 { // the second is a retransmission
				through, err := tr.Send(ctx, Batch{From: "earth", To: "mars", Msgs: msgs})
				if err != nil || through != 2 {
					t.Fatalf("send: through %d, %v; want 2", through, err)
				}
			}
			through, err := tr.Send(ctx, Batch{From: "earth", To: "mars"})
			if err != nil || through != 2 {
				t.Fatalf("probe: through %d, %v; want 2", through, err)
			}
			got := in.Received("earth")
			if len(got) != 2 || !bytes.Equal(got[0].Body, body) || got[0].ID != "c-1" || got[1].Kind != "handoff" || got[1].Body != nil {
				t.Fatalf("received %+v", got)
			}
		})
	}
}

// TestHandlerRefusals posts bad requests to the handler over HTTP: each gets
// its status and an error naming the field.
func TestHandlerRefusals(t *testing.T) {
	h := NewHandler()
	h.Add("mars", NewMemory())
	h.MaxBodyBytes = 1 << 10
	addr := loopback(t)
	serve(t, addr, h)
	base := "http://" + addr + PathPrefix

	goodPack := encodeRequest(Batch{To: "mars", Msgs: []Message{{Seq: 1, Kind: "k"}}})
	gapPack := encodeRequest(Batch{To: "mars", Msgs: []Message{{Seq: 1, Kind: "k"}, {Seq: 3, Kind: "k"}}})
	truncated := goodPack[:len(goodPack)-2]
	shortMsg := msgp.AppendArrayHeader(nil, 2)
	shortMsg = msgp.AppendString(shortMsg, "mars")
	shortMsg = msgp.AppendArrayHeader(shortMsg, 1)
	shortMsg = msgp.AppendArrayHeader(shortMsg, 2)
	cases := []struct {
		name, method, from, ctype string
		body                      []byte
		status                    int
		want                      string
	}{
		{"get", "GET", "earth", "", nil, 405, "method GET"},
		{"content type", "POST", "earth", "text/plain", []byte("x"), 415, `Content-Type: "text/plain"`},
		{"too large", "POST", "earth", ContentJSON, bytes.Repeat([]byte(" "), 2<<10), 413, "body: larger than 1024 bytes"},
		{"bad json", "POST", "earth", ContentJSON, []byte(`{"to":`), 400, "body:"},
		{"unknown field", "POST", "earth", ContentJSON, []byte(`{"to":"mars","msg":[]}`), 400, `unknown field "msg"`},
		{"json gap", "POST", "earth", ContentJSON, []byte(`{"to":"mars","msgs":[{"seq":1,"kind":"k"},{"seq":3,"kind":"k"}]}`), 400, "msgs[1].seq: 3 does not follow 1"},
		{"json no kind", "POST", "earth", ContentJSON, []byte(`{"to":"mars","msgs":[{"seq":1}]}`), 400, "msgs[0].kind: empty"},
		{"msgpack gap", "POST", "earth", ContentMsgpack, gapPack, 400, "msgs[1].seq: 3 does not follow 1"},
		{"msgpack truncated", "POST", "earth", ContentMsgpack, truncated, 400, "msgs[0]:"},
		{"msgpack short message", "POST", "earth", ContentMsgpack, shortMsg, 400, "msgs[0]: a message of 2 fields, want 4"},
		{"bad from", "POST", "Earth", ContentMsgpack, goodPack, 400, `from: region name "Earth"`},
		{"self", "POST", "mars", ContentMsgpack, goodPack, 400, `to: region "mars" links to itself`},
		{"unknown to", "POST", "earth", ContentJSON, []byte(`{"to":"venus","msgs":[]}`), 404, `to: region "venus" is not served here`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.from, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var a jsonAnswer
			if err := json.Unmarshal(raw, &a); err != nil {
				t.Fatalf("answer %q is not JSON: %v", raw, err)
			}
			if resp.StatusCode != tc.status || !strings.Contains(a.Error, tc.want) {
				t.Fatalf("%d %q, want %d and %q", resp.StatusCode, a.Error, tc.status, tc.want)
			}
		})
	}
}

// TestHTTPTransportErrors: a refusal reaches the sender as a RefusedError
// with the receiver's reason; an unknown region and a bad address are named.
func TestHTTPTransportErrors(t *testing.T) {
	h := NewHandler()
	h.Add("mars", NewMemory())
	addr := loopback(t)
	serve(t, addr, h)
	tr := httpTransport(t, HTTPConfig{Addresses: map[string]string{"mars": "http://" + addr, "venus": "http://" + addr}})
	_, err := tr.Send(context.Background(), Batch{From: "earth", To: "venus"})
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Status != http.StatusNotFound || !strings.Contains(refused.Reason, `"venus" is not served here`) {
		t.Fatalf("error %v, want a 404 refusal naming venus", err)
	}
	if _, err := tr.Send(context.Background(), Batch{From: "earth", To: "luna"}); !errors.Is(err, ErrUnknownRegion) || !strings.Contains(err.Error(), `"luna"`) {
		t.Fatalf("error %v, want ErrUnknownRegion naming luna", err)
	}
	if _, err := NewHTTPTransport(HTTPConfig{Addresses: map[string]string{"mars": "10.0.0.1:4646"}}); err == nil || !strings.Contains(err.Error(), `Addresses["mars"]`) {
		t.Fatalf("error %v, want the bad address named", err)
	}
	if _, err := NewHTTPTransport(HTTPConfig{Addresses: map[string]string{"Mars": "http://x"}}); err == nil || !strings.Contains(err.Error(), "Addresses") {
		t.Fatalf("error %v, want the bad region named", err)
	}
}

// TestHTTPHeader: the transport's header (an ACL token) reaches the handler.
func TestHTTPHeader(t *testing.T) {
	h := NewHandler()
	h.Add("mars", NewMemory())
	got := make(chan string, 1)
	addr := loopback(t)
	serve(t, addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Planetary-Token")
		h.ServeHTTP(w, r)
	}))
	tr := httpTransport(t, HTTPConfig{
		Addresses: map[string]string{"mars": "http://" + addr},
		Header:    http.Header{"X-Planetary-Token": {"secret"}},
	})
	if _, err := tr.Send(context.Background(), Batch{From: "earth", To: "mars"}); err != nil {
		t.Fatal(err)
	}
	if tok := <-got; tok != "secret" {
		t.Fatalf("token %q reached the handler", tok)
	}
}

// TestMessageCodec round-trips messages through the msgpack tuple and reads
// a longer tuple, as a later version with a new field would send.
func TestMessageCodec(t *testing.T) {
	m := Message{Seq: 7, Kind: "k", ID: "i", Body: []byte{0, 1}}
	b := appendMessage(nil, m)
	got, rest, err := readMessage(b)
	if err != nil || len(rest) != 0 || got.Seq != 7 || got.Kind != "k" || got.ID != "i" || !bytes.Equal(got.Body, m.Body) {
		t.Fatalf("round trip %+v %v", got, err)
	}
	longer := msgp.AppendArrayHeader(nil, messageFields+1)
	longer = msgp.AppendUint64(longer, 7)
	longer = msgp.AppendString(longer, "k")
	longer = msgp.AppendString(longer, "i")
	longer = msgp.AppendBytes(longer, nil)
	longer = msgp.AppendString(longer, "a later field")
	longer = msgp.AppendUint64(longer, 99) // what follows
	got, rest, err = readMessage(longer)
	if err != nil || got.Seq != 7 || got.Body != nil {
		t.Fatalf("longer tuple %+v %v", got, err)
	}
	if n, _, err := msgp.ReadUint64Bytes(rest); err != nil || n != 99 {
		t.Fatalf("after a longer tuple: %d %v", n, err)
	}
}
