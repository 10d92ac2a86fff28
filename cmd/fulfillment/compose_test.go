package main

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/internal/envconfig"
)

// loadCompose loads docker-compose.yml the way `docker compose` does
// (compose-go), with env as the environment; raw skips interpolation.
func loadCompose(t *testing.T, env map[string]string, raw bool) *types.Project {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: env,
	}, func(o *loader.Options) {
		o.SetProjectName("fulfillment", true)
		o.SkipInterpolation = raw
	})
	require.NoError(t, err)
	return p
}

// moduleVersion is the version of a module linked into this binary, as
// go.mod pins it.
func moduleVersion(t *testing.T, module string) string {
	t.Helper()
	bi, ok := debug.ReadBuildInfo()
	require.True(t, ok)
	for _, d := range bi.Deps {
		if d.Path == module {
			return strings.TrimPrefix(d.Version, "v")
		}
	}
	t.Fatalf("%s is not linked", module)
	return ""
}

// The compose file's wiring: every dependency waits for a health check or
// a completed job, images match the pinned modules, the worker and the API
// get every variable they read, the server mounts the config the cluster
// test runs it on.
func TestComposeWiring(t *testing.T) {
	p := loadCompose(t, map[string]string{"POSTGRES_PASSWORD": "from-the-environment", "LMS_URL": "https://lms.example.com"}, false)
	svc := func(name string) types.ServiceConfig {
		s, ok := p.Services[name]
		require.True(t, ok, "service %s", name)
		return s
	}
	require.ElementsMatch(t, []string{"postgresql", "temporal-schema", "temporal", "temporal-ui", "worker", "api"}, p.ServiceNames())

	// Images at the versions of the modules go.mod pins.
	require.Equal(t, "temporalio/server:"+moduleVersion(t, "go.temporal.io/server"), svc("temporal").Image)
	require.Equal(t, "temporalio/ui:"+moduleVersion(t, "github.com/temporalio/ui-server/v2"), svc("temporal-ui").Image)
	dockerfile, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	require.NoError(t, err)
	for name, target := range map[string]string{"temporal-schema": "temporal-schema", "worker": "fulfillment", "api": "fulfillment"} {
		b := svc(name).Build
		require.NotNil(t, b, name)
		require.Equal(t, target, b.Target, name)
		require.Regexp(t, `(?m)^FROM .* AS `+regexp.QuoteMeta(target)+`$`, string(dockerfile), "Dockerfile stage %s", target)
	}

	// Dependencies: each waits for what it needs to be healthy (or done).
	want := map[string]map[string]string{
		"temporal-schema": {"postgresql": types.ServiceConditionHealthy},
		"temporal":        {"temporal-schema": types.ServiceConditionCompletedSuccessfully},
		"temporal-ui":     {"temporal": types.ServiceConditionHealthy},
		"worker":          {"temporal": types.ServiceConditionHealthy},
		"api":             {"temporal": types.ServiceConditionHealthy},
	}
	for name, s := range p.Services {
		got := map[string]string{}
		for dep, d := range s.DependsOn {
			got[dep] = d.Condition
			switch d.Condition {
			case types.ServiceConditionHealthy:
				hc := svc(dep).HealthCheck
				require.True(t, hc != nil && len(hc.Test) > 0 && !hc.Disable, "%s waits for %s to be healthy: it needs a health check", name, dep)
			case types.ServiceConditionCompletedSuccessfully:
				require.Equal(t, "no", svc(dep).Restart, "%s is a one-shot job", dep)
			default:
				t.Errorf("%s depends on %s without waiting for it (%q)", name, dep, d.Condition)
			}
		}
		if want[name] == nil {
			want[name] = map[string]string{}
		}
		require.Equal(t, want[name], got, "depends_on of %s", name)
	}
	for _, name := range []string{"postgresql", "temporal", "worker", "api"} {
		hc := svc(name).HealthCheck
		require.True(t, hc != nil && len(hc.Test) > 0, "%s has a health check", name)
	}
	require.Equal(t, []string{"CMD", "/fulfillment", "health", "http://127.0.0.1:9090/healthz"}, []string(svc("worker").HealthCheck.Test))
	require.Equal(t, ":9090", *svc("worker").Environment[envMetricsListen], "the worker's health check asks its metrics port")
	require.Equal(t, []string{"CMD", "/fulfillment", "health", "http://127.0.0.1:8080/readyz"}, []string(svc("api").HealthCheck.Test))
	require.Equal(t, []string{"api", "--http-port", "8080"}, []string(svc("api").Command))
	require.Equal(t, []string{"worker"}, []string(svc("worker").Command))
	require.NotNil(t, svc("worker").Deploy)
	require.Equal(t, 2, *svc("worker").Deploy.Replicas)

	// The server runs on the config the cluster test runs it on.
	temporal := svc("temporal")
	var mount *types.ServiceVolumeConfig
	for i, v := range temporal.Volumes {
		if strings.HasSuffix(filepath.ToSlash(v.Source), "/deploy/temporal") {
			mount = &temporal.Volumes[i]
		}
	}
	require.NotNil(t, mount, "deploy/temporal is mounted into the server")
	for env, file := range map[string]string{"TEMPORAL_SERVER_CONFIG_FILE_PATH": "config.yaml", "TEMPORAL_DYNAMIC_CONFIG": "dynamicconfig.yaml"} {
		require.Equal(t, path.Join(mount.Target, file), *temporal.Environment[env], env)
		_, err := os.Stat(filepath.Join(mount.Source, file))
		require.NoError(t, err)
	}

	// The worker and the API get every variable they read (a secret as
	// NAME or NAME_FILE), and nothing they do not read.
	for _, command := range []string{"worker", "api"} {
		env := svc(command).Environment
		known := map[string]bool{}
		for _, v := range commandEnv(command) {
			known[v.name] = true
			_, plain := env[v.name]
			_, file := env[v.name+envconfig.FileSuffix]
			require.True(t, plain || (v.file && file), "%s: %s is not set", command, v.name)
			if v.file {
				known[v.name+envconfig.FileSuffix] = true
			}
		}
		for name := range env {
			require.True(t, known[name], "%s: %s is not a variable it reads", command, name)
		}
		// A _FILE names a secret mounted into the service.
		mounted := map[string]bool{}
		for _, s := range svc(command).Secrets {
			mounted["/run/secrets/"+s.Source] = true
			require.Contains(t, p.Secrets, s.Source)
			require.NotEmpty(t, p.Secrets[s.Source].File, "secret %s comes from a file", s.Source)
		}
		for _, sv := range commandEnv(command) {
			if v, ok := env[sv.name+envconfig.FileSuffix]; ok && sv.file {
				require.True(t, v != nil && mounted[*v], "%s: %s_FILE names a secret of the service", command, sv.name)
			}
		}
	}
}

// secretName looks like a variable holding a secret.
var secretName = regexp.MustCompile(`PASSWORD|PWD|SECRET|TOKEN|API_KEY|KEY_DATA|CODEC_AUTH|CONSUMER_KEY`)

// No secret is written in the compose file: each comes from the
// environment without a default, or from a file mounted as a secret.
func TestComposeHasNoInlineSecret(t *testing.T) {
	p := loadCompose(t, nil, true)
	fromEnv := regexp.MustCompile(`^\$\{[A-Z0-9_]+(:?\?[^}]*|:-)?\}$`)
	checked := 0
	for name, s := range p.Services {
		for key, v := range s.Environment {
			if !secretName.MatchString(key) || strings.HasSuffix(key, envconfig.FileSuffix) {
				continue
			}
			checked++
			require.NotNil(t, v, "%s %s", name, key)
			require.Regexp(t, fromEnv, *v, "%s: %s must come from the environment (no default) or a _FILE secret", name, key)
		}
	}
	require.Greater(t, checked, 10, "the secrets of every service were checked")
}
