package console

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui", Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cases := []struct {
		method, path string
		status       int
		ctype        string
		contains     string
	}{
		{"GET", "/ui/", 200, "text/html", `<table id="shards">`},
		{"GET", "/ui/index.html", 200, "text/html", `<script src="render.js">`},
		{"GET", "/ui/app.js", 200, "text/javascript", "X-Planetary-Index"},
		{"GET", "/ui/views.js", 200, "text/javascript", "renderJobs"},
		{"GET", "/ui/render.js", 200, "text/javascript", "renderAll"},
		{"GET", "/ui/style.css", 200, "text/css", "--bg"},
		{"HEAD", "/ui/app.js", 200, "text/javascript", ""},
		{"GET", "/ui/panels.html", 404, "", ""},
		{"GET", "/ui/../go.mod", 404, "", ""},
		{"POST", "/ui/", 405, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.ctype != "" && !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) {
				t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Fatalf("body lacks %q", tc.contains)
			}
		})
	}
	// The page itself references no other origin.
	for _, name := range []string{"index.html", AssetRender, AssetStyle, AssetPanels, "app.js", "views.js"} {
		b, err := Asset(name)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "")
		if strings.Contains(s, "http://") || strings.Contains(s, "https://") {
			t.Errorf("%s references another origin", name)
		}
	}
	if _, err := Asset("nope.js"); !errors.Is(err, ErrNoAsset) {
		t.Fatalf("err = %v", err)
	}
}
