package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	temporalenv "go.temporal.io/sdk/contrib/envconfig"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/coursefulfill/fulfillment/codec"
	"github.com/coursefulfill/fulfillment/internal/envconfig"
)

// Secrets among the Temporal connection's variables: each may instead be
// read from the file named by NAME_FILE.
const (
	EnvTemporalAPIKey     = "TEMPORAL_API_KEY"
	EnvTemporalTLSKeyData = "TEMPORAL_TLS_CLIENT_KEY_DATA"
)

// DefaultAddress is the Temporal frontend a process dials when nothing
// names another.
const DefaultAddress = "127.0.0.1:7233"

// Connection is how a process reaches Temporal: address, namespace, TLS or
// mTLS and API key, read the way the Temporal CLI and SDKs read them
// (go.temporal.io/sdk/contrib/envconfig: an optional TOML profile,
// TEMPORAL_CONFIG_FILE and TEMPORAL_PROFILE, then TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS,
// TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH,
// TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME, ...), with
// TEMPORAL_API_KEY and TEMPORAL_TLS_CLIENT_KEY_DATA also from a _FILE.
type Connection struct {
	Profile temporalenv.ClientConfigProfile
	// Codec, when set (codec.EnvKeys), encrypts the payloads the client
	// writes and decrypts those it reads.
	Codec *codec.Codec
}

// ConnectionFromEnv reads the connection from the environment (getenv and
// environ are os.Getenv and os.Environ outside tests). An empty address is
// DefaultAddress, an empty namespace "default".
func ConnectionFromEnv(getenv func(string) string, environ func() []string) (Connection, error) {
	lookup := envLookup{getenv: getenv, environ: environ, secrets: map[string]string{}}
	for _, name := range []string{EnvTemporalAPIKey, EnvTemporalTLSKeyData} {
		v, err := envconfig.Secret(getenv, name)
		if err != nil {
			return Connection{}, err
		}
		lookup.secrets[name] = v
	}
	prof, err := temporalenv.LoadClientConfigProfile(temporalenv.LoadClientConfigProfileOptions{EnvLookup: lookup})
	if err != nil {
		// Errors of the loader name variables and files, never values.
		return Connection{}, fmt.Errorf("temporal connection: %w", err)
	}
	if prof.Address == "" {
		prof.Address = DefaultAddress
	}
	if prof.Namespace == "" {
		prof.Namespace = "default"
	}
	cdc, err := codec.FromEnv(getenv)
	if err != nil {
		return Connection{}, err
	}
	return Connection{Profile: prof, Codec: cdc}, nil
}

// ClientOptions are the SDK client options of the connection; it fails on
// TLS files that cannot be read.
func (c Connection) ClientOptions() (client.Options, error) {
	opts, err := c.Profile.ToClientOptions(temporalenv.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal connection: %w", err)
	}
	if c.Codec != nil {
		opts.DataConverter = codec.DataConverter(c.Codec)
	}
	return opts, nil
}

// Describe is the connection for people, secrets masked: address,
// namespace, whether TLS, mTLS and an API key are in use.
func (c Connection) Describe() map[string]string {
	p := c.Profile
	tls := p.TLS != nil && !p.TLS.Disabled || (p.TLS == nil && p.APIKey != "")
	out := map[string]string{"address": p.Address, "namespace": p.Namespace, "tls": fmt.Sprint(tls),
		"mtls":    fmt.Sprint(p.TLS != nil && (p.TLS.ClientCertPath != "" || len(p.TLS.ClientCertData) > 0)),
		"api_key": mask(p.APIKey)}
	if p.TLS != nil && p.TLS.ServerName != "" {
		out["tls_server_name"] = p.TLS.ServerName
	}
	out["payload_codec"] = "(unset)"
	if c.Codec != nil {
		out["payload_codec"] = "AES-256-GCM, encrypting with key " + c.Codec.EncryptKeyID()
	}
	return out
}

// mask stands for a secret: whether it is set, never its value.
func mask(secret string) string {
	if secret == "" {
		return "(unset)"
	}
	return "****"
}

// envLookup is the environment as contrib/envconfig sees it: empty
// variables are unset, and the secrets come resolved from NAME or NAME_FILE.
type envLookup struct {
	getenv  func(string) string
	environ func() []string
	secrets map[string]string
}

func (e envLookup) Environ() []string {
	if e.environ == nil {
		return nil
	}
	return e.environ()
}

func (e envLookup) LookupEnv(name string) (string, bool) {
	if v, ok := e.secrets[name]; ok {
		return v, v != ""
	}
	v := strings.TrimSpace(e.getenv(name))
	return v, v != ""
}

// DialConnection connects to Temporal as conn says; extra sets what the
// process adds (metrics handler, interceptors). The SDK logs through log
// under the name "temporal".
func DialConnection(ctx context.Context, conn Connection, extra func(*client.Options), log *zap.Logger) (client.Client, error) {
	opts, err := conn.ClientOptions()
	if err != nil {
		return nil, err
	}
	if extra != nil {
		extra(&opts)
	}
	if log == nil {
		log = zap.NewNop()
	}
	opts.Logger = NewSDKLogger(log.Named("temporal"))
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", opts.HostPort, err)
	}
	return c, nil
}

// EnsureNamespace registers namespace with retention when it does not
// exist (a fresh cluster has none), and waits until the frontend knows it.
// Running it on every start, from several processes at once, is safe.
func EnsureNamespace(ctx context.Context, c client.Client, namespace string, retention time.Duration, log *zap.Logger) error {
	_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	var notFound *serviceerror.NamespaceNotFound
	if err == nil || !errors.As(err, &notFound) {
		if err != nil {
			return fmt.Errorf("describe namespace: %w", err)
		}
		return nil
	}
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        namespace,
		Description:                      "course order fulfillment",
		WorkflowExecutionRetentionPeriod: durationpb.New(retention),
		HistoryArchivalState:             enumspb.ARCHIVAL_STATE_DISABLED,
		VisibilityArchivalState:          enumspb.ARCHIVAL_STATE_DISABLED,
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register namespace: %w", err)
	}
	if err == nil {
		log.Info("registered namespace", zap.String("namespace", namespace), zap.Duration("retention", retention))
	}
	return nil
}

// Prepare makes namespace ready for fulfillment on any cluster: it exists
// (EnsureNamespace), has the search attributes and at least retention
// (PrepareNamespace; retention 0 leaves it as it is). A fresh namespace
// takes the frontend a few seconds to learn, and processes starting
// together race to add the same attributes: Prepare tries again for up to
// two minutes.
func Prepare(ctx context.Context, c client.Client, namespace string, retention time.Duration, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	create := retention
	if create <= 0 {
		create = minCreateRetention
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := EnsureNamespace(ctx, c, namespace, create, log)
		if err == nil {
			err = PrepareNamespace(ctx, c, namespace, retention, log)
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil || refused(err) {
			return err
		}
		log.Info("namespace not ready yet, trying again", zap.Error(err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// refused reports an error that trying again does not change: the
// connection may not manage namespaces (Temporal Cloud's API keys, for
// one: there, create the namespace and the search attributes beforehand
// and start with --prepare-namespace=false).
func refused(err error) bool {
	var denied *serviceerror.PermissionDenied
	var unimplemented *serviceerror.Unimplemented
	return errors.As(err, &denied) || errors.As(err, &unimplemented) || status.Code(err) == codes.Unauthenticated
}

// minCreateRetention is the retention a namespace is created with when the
// caller raises none (the API): a year and a day, like dev.
const minCreateRetention = 8784 * time.Hour

// TemporalEnv lists the variables ConnectionFromEnv reads (contrib/
// envconfig's, with TEMPORAL_API_KEY and TEMPORAL_TLS_CLIENT_KEY_DATA also
// as _FILE), besides the gRPC headers TEMPORAL_GRPC_META_<NAME>.
func TemporalEnv() []string {
	return []string{
		"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", EnvTemporalAPIKey, "TEMPORAL_CLIENT_AUTHORITY",
		"TEMPORAL_TLS", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_CERT_DATA",
		"TEMPORAL_TLS_CLIENT_KEY_PATH", EnvTemporalTLSKeyData, "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
		"TEMPORAL_TLS_SERVER_CA_CERT_DATA", "TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION",
		"TEMPORAL_CODEC_ENDPOINT", "TEMPORAL_CODEC_AUTH", "TEMPORAL_CONFIG_FILE", "TEMPORAL_PROFILE",
	}
}
