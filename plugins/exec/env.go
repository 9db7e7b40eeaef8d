package exec

import (
	"sort"
	"strings"
)

// HostEnv is the fixed list of variables a command inherits from the exec
// plugin's environment. Every other variable of the host (LD_PRELOAD, a
// token, a proxy setting ...) is dropped, so what a command sees does not
// depend on how the agent was started.
var HostEnv = []string{
	"PATH", "HOME", "USER", "LOGNAME", "TZ", "TMPDIR",
	"LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_COLLATE", "LC_MESSAGES",
	"LC_NUMERIC", "LC_TIME", "LC_MONETARY",
}

// DefaultPath is the command's PATH when the plugin has none.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// deniedEnvPrefixes and deniedEnv name variables a job may not set: they
// make the dynamic loader, libc or an interpreter load or run code the
// command did not ask for.
var (
	deniedEnvPrefixes = []string{"LD_", "DYLD_", "BASH_FUNC_", "MALLOC_", "PYTHON", "PERL", "RUBY", "NODE_"}
	deniedEnv         = map[string]bool{
		"GCONV_PATH": true, "GETCONF_DIR": true, "GLIBC_TUNABLES": true, "HOSTALIASES": true,
		"LOCALDOMAIN": true, "LOCPATH": true, "NIS_PATH": true, "NLSPATH": true,
		"RESOLV_HOST_CONF": true, "RES_OPTIONS": true, "TZDIR": true,
		"BASH_ENV": true, "ENV": true, "SHELLOPTS": true, "BASHOPTS": true, "IFS": true, "PS4": true,
		"PROMPT_COMMAND": true, "CDPATH": true, "JAVA_TOOL_OPTIONS": true, "_JAVA_OPTIONS": true,
		"GIT_EXEC_PATH": true, "GIT_SSH_COMMAND": true,
	}
)

// jobEnvAllowed reports whether a job's env may set name: a plain
// identifier that is not a loader, libc or interpreter hook.
func jobEnvAllowed(name string) bool {
	if name == "" || !validEnvName(name) || deniedEnv[name] {
		return false
	}
	for _, p := range deniedEnvPrefixes {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	return true
}

func validEnvName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// hostEnv is the part of environ (KEY=value entries) whose names are in
// HostEnv, in HostEnv's order, with PATH set to DefaultPath when missing.
func hostEnv(environ []string) []string {
	vals := make(map[string]string, len(HostEnv))
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if ok {
			vals[name] = val
		}
	}
	out := make([]string, 0, len(HostEnv))
	for _, name := range HostEnv {
		if v, ok := vals[name]; ok {
			out = append(out, name+"="+v)
		} else if name == "PATH" {
			out = append(out, "PATH="+DefaultPath)
		}
	}
	return out
}

// childEnv is base (already filtered by hostEnv) with the job's variables
// that pass jobEnvAllowed set on top: a name in both keeps the job's value,
// and the job's names follow base's in sorted order. It also returns the
// names it dropped, sorted.
func childEnv(base []string, job map[string]string) (env, dropped []string) {
	add := make(map[string]string, len(job))
	for k, v := range job {
		if jobEnvAllowed(k) && !strings.ContainsRune(v, 0) {
			add[k] = v
		} else {
			dropped = append(dropped, k)
		}
	}
	sort.Strings(dropped)
	return mergeEnv(base, add), dropped
}
