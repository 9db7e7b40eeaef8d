package build

import (
	"bytes"
	"fmt"
	"net/url"
	"path"
	"strings"

	"golang.org/x/net/html"
)

// PageLinks is what one HTML file refers to and the anchors it defines.
type PageLinks struct {
	IDs    map[string]int // id -> number of elements carrying it
	Links  []string       // href of <a>
	Assets []string       // href of <link>, src of <img>, <script>, <iframe>, ...
	Script bool           // the page has a <script> element
}

// ParseLinks scans an HTML document.
func ParseLinks(doc []byte) (PageLinks, error) {
	root, err := html.Parse(bytes.NewReader(doc))
	if err != nil {
		return PageLinks{}, fmt.Errorf("build: parse html: %w", err)
	}
	pl := PageLinks{IDs: map[string]int{}}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if n.Data == "script" {
				pl.Script = true
			}
			for _, a := range n.Attr {
				switch {
				case a.Key == "id":
					pl.IDs[a.Val]++
				case a.Key == "href" && n.Data == "a":
					pl.Links = append(pl.Links, a.Val)
				case a.Key == "href" || a.Key == "src" || a.Key == "srcset" || a.Key == "poster":
					pl.Assets = append(pl.Assets, a.Val)
				case a.Key == "style" && strings.Contains(a.Val, "url("):
					pl.Assets = append(pl.Assets, "inline-style-url")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return pl, nil
}

// isExternal reports whether ref leaves the site.
func isExternal(ref string) bool {
	u, err := url.Parse(ref)
	if err != nil {
		return true
	}
	return u.Scheme != "" || u.Host != "" || strings.HasPrefix(ref, "//")
}

// CheckLinks checks every HTML file of the site: each internal link names
// an existing file and, with a #fragment, an element id in it; assets are
// internal and exist; ids are unique; no page has a script. External links
// in <a> are allowed; external assets are not.
func (s *Site) CheckLinks() []error {
	parsed := map[string]PageLinks{}
	var errs []error
	for _, name := range s.Names() {
		if !strings.HasSuffix(name, ".html") {
			continue
		}
		pl, err := ParseLinks(s.Files[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		parsed[name] = pl
	}
	for _, name := range s.Names() {
		pl, ok := parsed[name]
		if !ok {
			continue
		}
		if pl.Script {
			errs = append(errs, fmt.Errorf("%s: has a <script>", name))
		}
		for id, n := range pl.IDs {
			if n > 1 {
				errs = append(errs, fmt.Errorf("%s: id %q used %d times", name, id, n))
			}
		}
		for _, a := range pl.Assets {
			if isExternal(a) || a == "inline-style-url" {
				errs = append(errs, fmt.Errorf("%s: external asset %q", name, a))
				continue
			}
			if _, ok := s.Files[path.Clean(a)]; !ok {
				errs = append(errs, fmt.Errorf("%s: missing asset %q", name, a))
			}
		}
		for _, l := range pl.Links {
			if isExternal(l) {
				continue
			}
			file, frag, _ := strings.Cut(l, "#")
			target := name
			if file != "" {
				target = path.Clean(file)
			}
			tp, ok := parsed[target]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: link %q: no page %s", name, l, target))
				continue
			}
			if frag != "" && tp.IDs[frag] == 0 {
				errs = append(errs, fmt.Errorf("%s: link %q: no anchor #%s in %s", name, l, frag, target))
			}
		}
	}
	return errs
}
