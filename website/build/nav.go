package build

// Generated pages: their sources are built from code, not read from content.
const (
	genCLI     = "cli"
	genMission = "mission"
)

// PageSpec is one page of the site: its output name (without .html), its
// navigation title and either a Markdown source under content/ or a
// generator.
type PageSpec struct {
	Slug      string
	Title     string
	Source    string // file under the content FS
	Generated string // genCLI or genMission
}

// Section groups pages in the navigation sidebar.
type Section struct {
	Title string
	Pages []PageSpec
}

// Nav is the site's navigation, in reading order. The first page is the
// home page (index.html).
func Nav() []Section {
	return []Section{
		{Title: "Start", Pages: []PageSpec{
			{Slug: "index", Title: "Overview", Source: "index.md"},
			{Slug: "getting-started", Title: "Getting started", Source: "getting-started.md"},
			{Slug: "concepts", Title: "Concepts", Source: "concepts.md"},
		}},
		{Title: "Reference", Pages: []PageSpec{
			{Slug: "mission-reference", Title: "mission.hcl reference", Generated: genMission},
			{Slug: "job-files", Title: "Job files", Source: "job-files.md"},
			{Slug: "cli", Title: "CLI reference", Generated: genCLI},
			{Slug: "http-api", Title: "HTTP API", Source: "http-api.md"},
			{Slug: "limits", Title: "Limits", Source: "limits.md"},
		}},
		{Title: "Guides", Pages: []PageSpec{
			{Slug: "plugins", Title: "Writing agent plugins", Source: "plugins.md"},
			{Slug: "operations", Title: "Operations", Source: "operations.md"},
			{Slug: "drills", Title: "Drills", Source: "drills.md"},
			{Slug: "performance", Title: "Performance", Source: "performance.md"},
			{Slug: "architecture", Title: "Architecture", Source: "architecture.md"},
		}},
	}
}
