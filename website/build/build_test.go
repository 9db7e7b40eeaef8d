package build_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/website"
	"github.com/planetary/planetary/website/build"
)

// contentCommands returns a stub command for each CLI reference anchor the
// content links to, so the site builds without the cmd package (whose
// commands are checked by its own test).
func contentCommands(t *testing.T) []build.CommandDoc {
	t.Helper()
	re := regexp.MustCompile(`cli\.md#([a-z0-9-]+)`)
	seen := map[string]bool{}
	var out []build.CommandDoc
	err := fs.WalkDir(website.Content(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(website.Content(), p)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if !seen[m[1]] && !strings.HasPrefix(m[1], "group-") {
				seen[m[1]] = true
				out = append(out, build.CommandDoc{Name: strings.ReplaceAll(m[1], "-", " "), Help: "Usage: stub"})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func buildSite(t *testing.T, cmds []build.CommandDoc) *build.Site {
	t.Helper()
	cmds = append(cmds, contentCommands(t)...)
	cfg := build.DefaultConfig()
	cfg.Content = website.Content()
	cfg.Stylesheet = website.Stylesheet()
	cfg.Commands = cmds
	b, err := build.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	site, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return site
}

// TestMissionReferenceComplete: every block, attribute and schedule action
// of mission.Reference() has its anchor in the generated page.
func TestMissionReferenceComplete(t *testing.T) {
	site := buildSite(t, nil)
	pl, err := build.ParseLinks(site.Files["mission-reference.html"])
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	var walk func(path []string, d mission.BlockDoc)
	walk = func(path []string, d mission.BlockDoc) {
		path = append(append([]string(nil), path...), d.Name)
		want = append(want, build.BlockID(path))
		for _, a := range d.Attributes {
			want = append(want, build.AttrID(path, a.Name))
		}
		for _, c := range d.Blocks {
			walk(path, c)
		}
	}
	for _, d := range mission.Reference() {
		walk(nil, d)
	}
	for _, a := range mission.ActionReference() {
		want = append(want, build.ActionID(a.Name))
		path := []string{"action", strings.ReplaceAll(a.Name, ".", "-")}
		for _, at := range a.Attributes {
			want = append(want, build.AttrID(path, at.Name))
		}
		for _, c := range a.Blocks {
			walk(path, c)
		}
	}
	if len(want) < 50 {
		t.Fatalf("only %d reference entries: schema not read?", len(want))
	}
	for _, id := range want {
		if pl.IDs[id] != 1 {
			t.Errorf("mission reference: anchor #%s appears %d times, want 1", id, pl.IDs[id])
		}
	}
}

// TestCLIReference: each command gets an anchor and its help verbatim.
func TestCLIReference(t *testing.T) {
	cmds := []build.CommandDoc{
		{Name: "agent", Synopsis: "Run a planetary agent", Help: "Usage: planetary agent [options]\n\n  Runs <it> & more."},
		{Name: "operator snapshot save", Synopsis: "Save a snapshot", Help: "Usage: planetary operator snapshot save <file>"},
	}
	site := buildSite(t, cmds)
	page := string(site.Files["cli.html"])
	pl, err := build.ParseLinks(site.Files["cli.html"])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if pl.IDs[build.CommandID(c.Name)] != 1 {
			t.Errorf("no anchor for %q", c.Name)
		}
	}
	if !strings.Contains(page, "Runs &lt;it&gt; &amp; more.") {
		t.Errorf("help text not rendered verbatim and escaped")
	}
}

// TestBrokenLinks: a link to a missing anchor or page fails the build.
func TestBrokenLinks(t *testing.T) {
	tests := []struct {
		name, page string
		ok         bool
	}{
		{"anchor in page", "# A\n\n## Here\n\n[x](#here)\n", true},
		{"anchor elsewhere", "# A\n\n[x](concepts.md#shards)\n", true},
		{"missing anchor", "# A\n\n[x](#nowhere)\n", false},
		{"missing page", "# A\n\n[x](nope.md)\n", false},
		{"external link", "# A\n\n[x](https://example.org/)\n", true},
		{"external image", "# A\n\n![x](https://example.org/a.png)\n", false},
		{"script", "# A\n\n<script>alert(1)</script>\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := fstest.MapFS{}
			for _, sec := range build.Nav() {
				for _, p := range sec.Pages {
					if p.Source != "" {
						content[p.Source] = &fstest.MapFile{Data: []byte("# " + p.Title + "\n\n## Shards\n\n## Missions\n")}
					}
				}
			}
			content["index.md"] = &fstest.MapFile{Data: []byte(tt.page)}
			cfg := build.DefaultConfig()
			cfg.Content = content
			cfg.Stylesheet = []byte("body{}")
			b, err := build.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.Build()
			if tt.ok && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !tt.ok && err == nil {
				t.Fatal("build passed, want an error")
			}
		})
	}
}

func TestHighlight(t *testing.T) {
	site := buildSite(t, nil)
	page := string(site.Files["getting-started.html"])
	for _, want := range []string{
		`<span class="k">mission</span>`,  // HCL block type
		`<span class="a">seed</span>`,     // HCL attribute
		`<span class="s">&#34;earth&#34;`, // HCL string
		`<span class="p">$ </span>`,       // session prompt
		`<span class="cm">planetary</span>`,
		`<figcaption>mission.hcl</figcaption>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("getting-started.html lacks %s", want)
		}
	}
	if strings.Contains(page, "{test") || strings.Contains(page, "{file=") {
		t.Errorf("code block attributes leaked into the page")
	}
}

func TestSessionsAndMatching(t *testing.T) {
	src := []byte("# T\n\n```hcl {file=a.hcl config}\nx = 1\n```\n\n```sh {test poll}\n$ planetary job status \\\n    a\nID = a\n...\nDone <time>\n$ true\n```\n")
	sessions, files, config := build.Sessions(src)
	if config != "a.hcl" || files["a.hcl"] != "x = 1\n" {
		t.Fatalf("files %v config %q", files, config)
	}
	if len(sessions) != 1 || !sessions[0].Poll || len(sessions[0].Steps) != 2 {
		t.Fatalf("sessions %+v", sessions)
	}
	st := sessions[0].Steps[0]
	if st.Command != "planetary job status \\\n    a" {
		t.Fatalf("command %q", st.Command)
	}
	tests := []struct {
		got string
		ok  bool
	}{
		{"ID = a\nDone 12:00\n", true},
		{"ID = a\nx\ny\nDone 12:00  \n\n", true},
		{"ID = b\nDone 12:00\n", false},
		{"ID = a\n", false},
		{"ID = a\nDone 1\nextra\n", false},
	}
	for _, tt := range tests {
		if got := build.MatchOutput(st.Want, tt.got); got != tt.ok {
			t.Errorf("MatchOutput(%q) = %v, want %v", tt.got, got, tt.ok)
		}
	}
}

func TestServe(t *testing.T) {
	site := buildSite(t, nil)
	srv := httptest.NewServer(site.Handler())
	defer srv.Close()
	tests := []struct {
		path, ctype string
		status      int
	}{
		{"/", "text/html", 200},
		{"/concepts", "text/html", 200},
		{"/concepts.html", "text/html", 200},
		{"/style.css", "text/css", 200},
		{"/nope", "", 404},
	}
	for _, tt := range tests {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.ctype) {
			t.Errorf("%s: %d %s", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}
