package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// frontendServerName is the name in the frontend's certificate; clients
// verify it with TEMPORAL_TLS_SERVER_NAME (they dial 127.0.0.1).
const frontendServerName = "temporal-frontend"

// pki is a throwaway CA and the certificates the test's mTLS uses.
type pki struct {
	CA                    string // CA certificate file
	ServerCert, ServerKey string // the frontend's (also its system workers' client certificate)
	ClientCert, ClientKey string // our worker's and API's
	pool                  *x509.CertPool
	client                tls.Certificate
}

// newPKI writes a CA, a frontend certificate and a client certificate
// under dir.
func newPKI(t *testing.T, dir string) *pki {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fulfillment test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	p := &pki{CA: filepath.Join(dir, "ca.pem"), pool: x509.NewCertPool()}
	p.pool.AddCert(caCert)
	writePEM(t, p.CA, "CERTIFICATE", caDER)

	issue := func(serial int64, name string, usages []x509.ExtKeyUsage, dns []string, ips []net.IP) (string, string, tls.Certificate) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), ExtKeyUsage: usages,
			KeyUsage: x509.KeyUsageDigitalSignature, DNSNames: dns, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		require.NoError(t, err)
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		require.NoError(t, err)
		certFile, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		writePEM(t, certFile, "CERTIFICATE", der)
		writePEM(t, keyFile, "PRIVATE KEY", keyDER)
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		require.NoError(t, err)
		return certFile, keyFile, pair
	}
	p.ServerCert, p.ServerKey, _ = issue(2, "frontend", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		[]string{frontendServerName}, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.ClientCert, p.ClientKey, p.client = issue(3, "fulfillment", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil)
	return p
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}

// httpClient is an HTTPS client that trusts the CA and presents the client
// certificate (the frontend's HTTP API asks for one too); without the
// certificate when anonymous.
func (p *pki) httpClient(anonymous bool) *http.Client {
	cfg := &tls.Config{RootCAs: p.pool, ServerName: frontendServerName, MinVersion: tls.VersionTLS12}
	if !anonymous {
		cfg.Certificates = []tls.Certificate{p.client}
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}
