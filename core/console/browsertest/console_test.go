package browsertest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/planetary/planetary/core/console"
	"github.com/planetary/planetary/core/console/browsertest"
	"github.com/planetary/planetary/core/report"
)

// fixtureAPI is a small real in-memory implementation of the console's
// routes: read views from report.Example() and a pause flag per shard.
type fixtureAPI struct {
	mu     sync.Mutex
	token  string
	in     report.Input
	paused map[string]bool
}

func (f *fixtureAPI) routes(mux *http.ServeMux) {
	js := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /v1/shards", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		out := append([]report.ShardView(nil), f.in.Shards...)
		for i := range out {
			out[i].Paused = f.paused[out[i].Name]
			if !out[i].Paused {
				out[i].Health = report.HealthOK
			}
		}
		js(w, out)
	})
	mux.HandleFunc("GET /v1/mission", func(w http.ResponseWriter, r *http.Request) { js(w, map[string]any{"name": f.in.Mission.Name}) })
	mux.HandleFunc("GET /v1/nodes", func(w http.ResponseWriter, r *http.Request) { js(w, f.in.Nodes) })
	mux.HandleFunc("GET /v1/ledger", func(w http.ResponseWriter, r *http.Request) { js(w, report.BuildLedger(f.in)) })
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("index") != "0" {
			<-r.Context().Done() // long poll: nothing new
			return
		}
		js(w, map[string]any{"events": f.in.Events, "index": len(f.in.Events)})
	})
	mux.HandleFunc("GET /v1/topology.svg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		_, _ = w.Write([]byte(report.SVG(f.in)))
	})
	pause := func(v bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Planetary-Token") != f.token {
				http.Error(w, `{"error":"permission denied"}`, http.StatusForbidden)
				return
			}
			var body struct{ Shard string }
			_ = json.NewDecoder(r.Body).Decode(&body)
			f.mu.Lock()
			f.paused[body.Shard] = v
			f.mu.Unlock()
			js(w, map[string]uint64{"index": 1})
		}
	}
	mux.HandleFunc("POST /v1/operator/pause", pause(true))
	mux.HandleFunc("POST /v1/operator/resume", pause(false))
}

func TestConsoleLive(t *testing.T) {
	api := &fixtureAPI{token: "s3cret", in: report.Example(), paused: map[string]bool{}}
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui", console.Handler()))
	api.routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)

	b := browsertest.New(t, browsertest.Config{AllowedHosts: []string{u.Host}})
	b.Do(
		chromedp.Navigate(srv.URL+"/ui/"),
		chromedp.WaitReady(chromedp.CSS(`#shards tr[data-shard=earth][data-paused=false]`)),
		chromedp.WaitReady(chromedp.CSS(`#topology-view svg#topology`)),
		chromedp.WaitReady(chromedp.CSS(`#events li[data-seq="1"]`)),
		chromedp.WaitReady(chromedp.CSS(`#invariants li[data-ok=true]`)),
	)
	_ = browsertest.Eval[bool](b, `sessionStorage.setItem("planetary-token", "s3cret"), true`)
	b.Do(
		chromedp.SetValue(chromedp.CSS(`#form-shard input[name=shard]`), "earth"),
		chromedp.Click(chromedp.CSS(`#form-shard button[data-action=shard-pause]`)),
		chromedp.WaitReady(chromedp.CSS(`#owner-status[data-state=ok]`)),
		chromedp.WaitReady(chromedp.CSS(`#shards tr[data-shard=earth][data-paused=true]`)),
	)
	b.WaitTrue(`document.getElementById("mission-name").textContent === "fixture-mission"`, 10*time.Second)
	b.Screenshot("paused")
	b.RequireNoBlocked()
}
