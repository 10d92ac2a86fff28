package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/codec"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/devserver"
	"github.com/coursefulfill/fulfillment/internal/envconfig"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/stack"
	"github.com/coursefulfill/fulfillment/woocommerce"
)

// sampleOrder is the order the printed curl places (inside single quotes:
// it has none).
const sampleOrder = `{"number":"EDX-100042","user":{"username":"ada","email":"ada@example.com"},` +
	`"lines":[{"id":"1","product_type":"seat","course_id":"course-v1:edX+DemoX+Demo_Course","mode":"verified"}],` +
	`"placed_at":"2026-11-21T10:00:00Z"}`

func newDevCommand() *cobra.Command {
	var (
		cfg       stack.Config
		logs      logFlags
		opts      orderOptionFlags
		pprofPort int
		inWorker  bool
		reconcile reconcileFlags
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole product in one process: Temporal server (SQLite), Web UI, worker, API and sandbox LMS",
		Long: `Run the whole product in one process: a real Temporal server persisted in SQLite
under --data-dir, the Temporal Web UI, the fulfillment worker, the HTTP API and
the sandbox LMS (or a real LMS with --lms-url). Orders survive a restart on the
same data directory. Ctrl-C stops everything cleanly.

Environment (a secret NAME can instead be read from the file named by
NAME_FILE; set only one):
  FULFILLMENT_API_TOKEN (or _FILE)   the API's bearer token (default: a new one each start)
  WOOCOMMERCE_*                      the WooCommerce receiver, as for "fulfillment api"
  LMS_*                              with --lms-url: the LMS credentials, as for "fulfillment worker"
  FULFILLMENT_MODULES_CONFIG         default of --modules-config
  FULFILLMENT_CODEC_KEYS (or _FILE)  default of --codec-keys`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkRetention(cfg.Retention); err != nil {
				return err
			}
			logger, err := logs.logger()
			if err != nil {
				return err
			}
			defer func() { _ = logger.Sync() }()
			cfg.Logger = logger
			sched := reconcile.config()
			cfg.Reconcile = &sched
			apiCfg, err := api.ConfigFromEnv(devGetenv(cfg))
			if err != nil {
				return err
			}
			cfg.APIToken, cfg.WooCommerce = apiCfg.Token, apiCfg.WooCommerce
			if cfg.LMSAdminToken == "" {
				cfg.LMSAdminToken = os.Getenv(envSandboxAdminToken)
			}
			if cfg.CodecKeys == "" {
				if cfg.CodecKeys, err = envconfig.Secret(os.Getenv, codec.EnvKeys); err != nil {
					return err
				}
			}
			if cfg.Options, err = opts.options(); err != nil {
				return err
			}
			if cfg.LMSURL != "" {
				if cfg.LMS, err = lms.ConfigFromEnv(os.Getenv); err != nil {
					return err
				}
			}
			pprofURL, stopPprof, err := servePprof(pprofPort)
			if err != nil {
				return err
			}
			defer stopPprof()
			cfg.NoWorker = !inWorker
			fmt.Fprintln(cmd.ErrOrStderr(), "starting Temporal server, Web UI, "+workerPart(inWorker)+"API and LMS ...")
			s, err := stack.Start(cmd.Context(), cfg)
			if err != nil {
				var pe *stack.PortError
				if errors.As(err, &pe) {
					return errors.New(pe.Error())
				}
				return err
			}
			defer s.Close()
			if !inWorker {
				printWorkerHint(cmd.OutOrStdout(), s, cfg.LMSURL != "")
			}
			if pprofURL != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "  Profiles      %s (go tool pprof %sprofile?seconds=30)\n", pprofURL, pprofURL)
			}
			printBanner(cmd, s, cfg)
			if cfg.CodecKeys != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "Payloads are encrypted; the Web UI decodes them through %s (loopback only),\nscripts through %s%s with the API token.\n\n",
					s.CodecURL, s.APIURL, api.CodecPath)
				if !inWorker {
					fmt.Fprintf(cmd.OutOrStdout(), "Start the workers with the same keys in %s (or %s_FILE).\n\n", codec.EnvKeys, codec.EnvKeys)
				}
			}
			<-cmd.Context().Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "\nstopping ...")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "./.fulfillment", "directory for the Temporal database and the sandbox LMS state")
	f.IntVar(&cfg.TemporalPort, "temporal-port", 7233, "Temporal frontend gRPC port")
	f.IntVar(&cfg.UIPort, "ui-port", 8233, "Temporal Web UI port")
	f.IntVar(&cfg.HTTPPort, "http-port", 8080, "fulfillment HTTP API port")
	f.IntVar(&cfg.LMSPort, "lms-port", 18000, "sandbox LMS port")
	f.StringVar(&cfg.LMSURL, "lms-url", "", "use this real LMS instead of the sandbox (credentials from LMS_* environment variables)")
	f.BoolVar(&cfg.LMSAutoRegister, "lms-auto-register", false, "sandbox LMS: unknown usernames exist")
	f.StringVar(&cfg.LMSAdminToken, "lms-admin-token", "", "sandbox LMS: token its admin API requires (default $"+envSandboxAdminToken+", which keeps it out of the process list); it answers only loopback callers either way")
	f.BoolVar(&inWorker, "worker", true, "run the fulfillment worker in this process; with --worker=false separate `fulfillment worker` processes do the work")
	registerModulesConfig(cmd, &cfg.ModulesConfig)
	f.StringVar(&cfg.CodecKeys, "codec-keys", "", "encrypt payloads (learner emails, usernames) in Temporal's history with these keys, id:base64key,... the first encrypting (default $"+codec.EnvKeys+" or its _FILE, which keep the keys out of the process list); docs/deployment.md")
	f.DurationVar(&cfg.Retention, "retention", devserver.DefaultRetention, "how long Temporal keeps closed orders (their status record; refunds after close need it), at least 720h")
	f.IntVar(&pprofPort, "pprof-port", 0, "serve Go profiles (CPU, heap, goroutines, block, mutex) of the whole process on 127.0.0.1 at this port; 0 serves none")
	logs.register(cmd, "info", logConsole)
	opts.register(cmd)
	reconcile.register(cmd, &cfg.Worker.ReconcileRate)
	return cmd
}

// banner is what `dev` prints once everything runs.
type banner struct {
	apiURL, uiURL, temporalAddr, lmsURL, lmsNote, dataDir, token string
}

func printBanner(cmd *cobra.Command, s *stack.Stack, cfg stack.Config) {
	writeBanner(cmd.OutOrStdout(), banner{apiURL: s.APIURL, uiURL: s.UIURL, temporalAddr: s.Server.FrontendAddress(),
		lmsURL: s.LMSURL, lmsNote: sandboxNote(cfg), dataDir: cfg.DataDir, token: s.APIToken})
}

// writeBanner prints the token once, as a line to paste; the commands
// below refer to it by name.
func writeBanner(out io.Writer, b banner) {
	fmt.Fprintf(out, `
Fulfillment is running.

  API           %s
  Temporal UI   %s/namespaces/default/workflows
  Temporal      %s (namespace default, task queue %s)
  LMS           %s%s
  Data dir      %s

API token (paste into your shell; the order commands read it too):

  export %s=%s

Place a sample order:

  curl -sS -X POST %s/api/v1/orders \
    -H "Authorization: Bearer $%s" -H 'Content-Type: application/json' \
    -d '%s'

Then read its status:

  curl -sS %s/api/v1/orders/EDX-100042 -H "Authorization: Bearer $%s"

Operations (docs/operations.md):

  Orders that need a person   %s
  Failed on one course        %s
  By error type               %s
  Open an order: its Current Details say why and what to do. Once the cause is
  fixed, use "Send an Update" (not a signal) - retry with {} - whose errors show
  in the dialog. Never Reset or Terminate an order.
  Retry every order a fix concerns:  go run ./cmd/fulfillment order retry --all --course <course>

Press Ctrl-C to stop.
`, b.apiURL, b.uiURL, b.temporalAddr, contract.TaskQueue, b.lmsURL, b.lmsNote, b.dataDir,
		api.EnvToken, b.token, b.apiURL, api.EnvToken, sampleOrder, b.apiURL, api.EnvToken,
		queryLink(b.uiURL, `OrderStatus="fulfillment_error" OR OrderStatus="revocation_error"`),
		queryLink(b.uiURL, `FailedCourseIds="course-v1:edX+DemoX+Demo_Course"`),
		queryLink(b.uiURL, `ErrorTypes="CourseNotFound"`))
}

// queryLink is the Web UI's list of workflows a visibility query selects.
func queryLink(uiURL, query string) string {
	return uiURL + "/namespaces/default/workflows?query=" + url.QueryEscape(query)
}

// devGetenv is os.Getenv, except that with the sandbox LMS a WooCommerce
// receiver without WOOCOMMERCE_STORES accepts any store (a sandbox has no
// store list to keep); with a real LMS the list is required as in
// production.
func devGetenv(cfg stack.Config) func(string) string {
	return func(k string) string {
		if k == woocommerce.EnvAllowAnyStore && cfg.LMSURL == "" && os.Getenv(k) == "" {
			return "true"
		}
		return os.Getenv(k)
	}
}

func sandboxNote(cfg stack.Config) string {
	if cfg.LMSURL != "" {
		return ""
	}
	return " (sandbox; enrollments at /sandbox/enrollments)"
}
