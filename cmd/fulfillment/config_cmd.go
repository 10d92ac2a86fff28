package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/codec"
	"github.com/coursefulfill/fulfillment/internal/envconfig"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/woocommerce"
	"github.com/coursefulfill/fulfillment/worker"
)

// envVar is one environment variable `worker` or `api` reads.
type envVar struct {
	name string
	// secret values are never printed.
	secret bool
	// file: the value may instead come from the file named by name_FILE.
	file bool
}

// Environment variables besides the packages' own.
const (
	envModulesConfig = "FULFILLMENT_MODULES_CONFIG"
	envMetricsListen = "FULFILLMENT_METRICS_LISTEN"
)

// commandEnv lists every environment variable the command ("worker" or
// "api") reads; TestCommandEnvIsComplete checks it against what the
// configuration readers ask for.
func commandEnv(command string) []envVar {
	// The payload codec's keys belong to the connection: both commands
	// read them (worker.ConnectionFromEnv).
	temporal := []envVar{{name: codec.EnvKeys, secret: true, file: true}}
	for _, name := range worker.TemporalEnv() {
		v := envVar{name: name}
		switch name {
		case worker.EnvTemporalAPIKey, worker.EnvTemporalTLSKeyData:
			v.secret, v.file = true, true
		case "TEMPORAL_CODEC_AUTH":
			v.secret = true
		}
		temporal = append(temporal, v)
	}
	switch command {
	case "worker":
		return append([]envVar{
			{name: lms.EnvURL}, {name: lms.EnvClientID}, {name: lms.EnvClientSecret, secret: true, file: true},
			{name: lms.EnvAPIKey, secret: true, file: true}, {name: lms.EnvTimeout}, {name: lms.EnvRateLimit},
			{name: lms.EnvRateBurst}, {name: lms.EnvPreEnrollByEmail},
			{name: envModulesConfig}, {name: envMetricsListen},
		}, temporal...)
	case "api":
		return append([]envVar{
			{name: api.EnvToken, secret: true, file: true},
			{name: woocommerce.EnvWebhookSecret, secret: true, file: true}, {name: woocommerce.EnvProductMap},
			{name: woocommerce.EnvStoreURL}, {name: woocommerce.EnvConsumerKey, secret: true, file: true},
			{name: woocommerce.EnvConsumerSecret, secret: true, file: true}, {name: woocommerce.EnvStores},
			{name: woocommerce.EnvAllowAnyStore},
			{name: envModulesConfig}, {name: codec.EnvOrigins},
		}, temporal...)
	}
	return nil
}

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check a worker or API configuration",
	}
	check := &cobra.Command{
		Use:   "check worker|api",
		Short: "Validate the environment of `fulfillment worker` or `api` and print it with its secrets masked",
		Long: `Read the configuration "fulfillment worker" or "fulfillment api" would start
with — the environment, secrets from NAME or NAME_FILE, the modules mapping,
the Temporal connection (address, namespace, TLS, mTLS, API key) — validate
it without connecting anywhere, and print every variable, secrets as ****.
Exits 1 when the configuration would not start.`,
		Example:   "  FULFILLMENT_API_TOKEN_FILE=/run/secrets/token fulfillment config check api",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"worker", "api"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if commandEnv(args[0]) == nil {
				return fmt.Errorf("config check: %q is not worker or api", args[0])
			}
			return checkConfig(cmd.OutOrStdout(), args[0], os.Getenv, os.Environ)
		},
	}
	cmd.AddCommand(check)
	return cmd
}

// checkConfig validates command's configuration from getenv and writes it
// to out, secrets masked. The error lists every problem found; it names
// variables and files, never a secret.
func checkConfig(out io.Writer, command string, getenv func(string) string, environ func() []string) error {
	var errs []error
	switch command {
	case "worker":
		cfg, err := lms.ConfigFromEnv(getenv)
		errs = append(errs, err)
		if err == nil {
			errs = append(errs, cfg.Validate())
		}
		if listen := getenv(envMetricsListen); listen != "" {
			if _, _, err := net.SplitHostPort(listen); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", envMetricsListen, err))
			}
		}
	case "api":
		cfg, err := api.ConfigFromEnv(getenv)
		errs = append(errs, err)
		if err == nil && cfg.Token == "" {
			errs = append(errs, fmt.Errorf("set %s (or %s_FILE): the API refuses to serve orders without a bearer token", api.EnvToken, api.EnvToken))
		}
	}
	_, err := modules.LoadMapping(getenv(envModulesConfig))
	errs = append(errs, err)
	conn, err := worker.ConnectionFromEnv(getenv, environ)
	if err == nil {
		_, err = conn.ClientOptions()
	}
	errs = append(errs, err)

	fmt.Fprintf(out, "fulfillment %s configuration (secrets masked):\n", command)
	for _, v := range commandEnv(command) {
		for _, line := range describeVar(v, getenv) {
			fmt.Fprintln(out, "  "+line)
		}
	}
	if err == nil {
		d := conn.Describe()
		keys := make([]string, 0, len(d))
		for k := range d {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintln(out, "temporal connection:")
		for _, k := range keys {
			fmt.Fprintf(out, "  %s: %s\n", k, d[k])
		}
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(out, "invalid:\n  %v\n", err)
		return fmt.Errorf("config check %s: %w", command, err)
	}
	fmt.Fprintln(out, "ok")
	return nil
}

// describeVar is how v is shown: its value, **** for a set secret, the
// file a secret comes from, or (unset).
func describeVar(v envVar, getenv func(string) string) []string {
	value := getenv(v.name)
	var lines []string
	switch {
	case value != "" && v.secret:
		lines = append(lines, v.name+"=****")
	case value != "":
		lines = append(lines, v.name+"="+value)
	}
	if v.file {
		if f := getenv(v.name + envconfig.FileSuffix); f != "" {
			lines = append(lines, v.name+envconfig.FileSuffix+"="+f)
		}
	}
	if len(lines) == 0 {
		lines = append(lines, v.name+" (unset)")
	}
	return lines
}
