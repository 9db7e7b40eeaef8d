// Package console serves the live mission console at /ui: static HTML, CSS
// and JavaScript embedded in the binary, with no CDN and no build step. The
// page reads the /v1 API (shards, nodes, jobs, ledger, events,
// topology.svg) through blocking queries, has overview, jobs, job and nodes
// views (docs/console.md), and sends owner actions with the token the user
// enters.
//
// The rendering script is shared with the offline dashboard of a report
// bundle, which embeds it with the data inlined (see Asset).
package console

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed assets
var assets embed.FS

// ErrNoAsset is returned by Asset for a name that is not embedded.
var ErrNoAsset = errors.New("console: no such asset")

// Asset names shared with the offline dashboard.
const (
	AssetRender = "render.js"
	AssetStyle  = "style.css"
	AssetPanels = "panels.html"
)

// Asset returns an embedded asset by file name.
func Asset(name string) ([]byte, error) {
	b, err := fs.ReadFile(assets, path.Join("assets", name))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNoAsset, name)
	}
	return b, nil
}

// Handler serves the console. Mount it with http.StripPrefix("/ui", ...) or
// at a mux pattern "/ui/"; it serves index.html, app.js, views.js,
// render.js and style.css and answers 404 for anything else.
func Handler() http.Handler {
	index, _ := Asset("index.html")
	panels, _ := Asset(AssetPanels)
	index = bytes.Replace(index, []byte("<!--panels-->"), panels, 1)
	files := map[string][]byte{"index.html": index}
	types := map[string]string{"index.html": "text/html; charset=utf-8"}
	for name, ct := range map[string]string{
		"app.js": "text/javascript; charset=utf-8", "views.js": "text/javascript; charset=utf-8",
		AssetRender: "text/javascript; charset=utf-8",
		AssetStyle:  "text/css; charset=utf-8",
	} {
		b, _ := Asset(name)
		files[name], types[name] = b, ct
	}
	modTime := time.Unix(0, 0)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := path.Base(path.Clean("/" + r.URL.Path))
		if name == "/" || name == "ui" || name == "." {
			name = "index.html"
		}
		b, ok := files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", types[name])
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, name, modTime, bytes.NewReader(b))
	})
}
