package mission

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/planetary/planetary/sdk"
)

// CheckConfig checks the plugin's config block against the schema the
// plugin declares and returns the values to pass to Configure, defaults
// filled. Problems are diagnostics at the config attribute (or block).
func (p PluginSpec) CheckConfig(schema sdk.Schema) (map[string]any, hcl.Diagnostics) {
	return checkConfig(fmt.Sprintf("plugin %q", p.Name), p.Config, p.ConfigSource, schema)
}

// CheckConfig checks the node's config block against the schema of its
// plugin, like PluginSpec.CheckConfig.
func (n Node) CheckConfig(schema sdk.Schema) (map[string]any, hcl.Diagnostics) {
	return checkConfig(fmt.Sprintf("node %q (plugin %q)", n.ID, n.Plugin), n.Config, n.ConfigSource, schema)
}

func checkConfig(what string, values map[string]any, src ConfigSource, schema sdk.Schema) (map[string]any, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	at := func(name string) *hcl.Range {
		if r, ok := src.Attrs[name]; ok {
			return r.Ptr()
		}
		return src.Block.Ptr()
	}
	declared := map[string]sdk.Attribute{}
	names := make([]string, 0, len(schema.Attributes))
	for _, a := range schema.Attributes {
		declared[a.Name] = a
		names = append(names, a.Name)
	}
	sort.Strings(names)
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := declared[k]; !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Unsupported plugin setting",
				Detail:  fmt.Sprintf("The config of %s has no setting %q. Settings: %s.", what, k, strings.Join(names, ", ")),
				Subject: at(k),
			})
		}
	}
	out := map[string]any{}
	for _, a := range schema.Attributes {
		v, ok := values[a.Name]
		if !ok {
			if a.Required {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Missing plugin setting",
					Detail:  fmt.Sprintf("The config of %s must set %q (%s).", what, a.Name, a.Description),
					Subject: src.Block.Ptr(),
				})
			} else if a.Default != nil {
				out[a.Name] = a.Default
			}
			continue
		}
		okType := false
		switch a.Type {
		case sdk.TypeString:
			_, okType = v.(string)
		case sdk.TypeNumber:
			_, okType = v.(float64)
		case sdk.TypeBool:
			_, okType = v.(bool)
		case sdk.TypeStringList:
			_, okType = v.([]string)
		}
		if !okType {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Incorrect plugin setting type",
				Detail:  fmt.Sprintf("Setting %q of %s must be %s.", a.Name, what, a.Type),
				Subject: at(a.Name),
			})
			continue
		}
		out[a.Name] = v
	}
	return out, diags
}
