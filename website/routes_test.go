package website_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/planetary/planetary/core/ownercmd"
	"github.com/planetary/planetary/website"
)

// routeLine matches a route registration in core/api:
// h.handle("GET /v1/jobs", ...).
var routeLine = regexp.MustCompile(`\bh\.handle\("([A-Z]+ /v1/[^"]*)"`)

// documentedRoute matches a route written as code on the HTTP API page:
// `GET /v1/jobs`.
var documentedRoute = regexp.MustCompile("`([A-Z]+ /v1/[^`?\\s]*)`")

// apiRoutes returns the routes core/api registers, from its source files.
func apiRoutes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "core", "api", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range routeLine.FindAllStringSubmatch(string(b), -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				out = append(out, m[1])
			}
		}
	}
	// The described owner commands register their routes from their
	// registry rows.
	for _, s := range ownercmd.All() {
		if r := ownercmd.Route(s); !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// TestHTTPAPIPageListsEveryRoute checks that every /v1 route core/api
// registers appears on the HTTP API page, and that the page lists no route
// the code does not register.
func TestHTTPAPIPageListsEveryRoute(t *testing.T) {
	routes := apiRoutes(t)
	if len(routes) < 40 {
		t.Fatalf("found only %d routes in core/api; has the registration form changed? %v", len(routes), routes)
	}
	page, err := fs.ReadFile(website.Content(), "http-api.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range documentedRoute.FindAllStringSubmatch(string(page), -1) {
		documented[m[1]] = true
	}
	registered := map[string]bool{}
	for _, r := range routes {
		registered[r] = true
	}
	cases := []struct {
		name    string
		want    []string
		present map[string]bool
		missing string
	}{
		{"registered routes are documented", routes, documented, "not on http-api.md"},
		{"documented routes are registered", keys(documented), registered, "documented but not registered in core/api"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range c.want {
				if !c.present[r] {
					t.Errorf("%s: %s", r, c.missing)
				}
			}
		})
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
