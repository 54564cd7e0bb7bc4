package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// acmeOptions are serve's ACME flags: certificates obtained and renewed
// automatically (TLS-ALPN-01 on the TLS port, HTTP-01 on the redirect
// listener when there is one).
type acmeOptions struct {
	domains, email, directory, caFile *string
}

func (o acmeOptions) enabled() bool { return *o.domains != "" }

// manager builds the autocert manager; its account key and certificates
// are cached in dataDir/acme (0700).
func (o acmeOptions) manager(dataDir string) (*autocert.Manager, error) {
	var hosts []string
	for _, d := range strings.Split(*o.domains, ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			if !strings.Contains(strings.Trim(d, "."), ".") {
				return nil, usageError(fmt.Sprintf("--acme-domain %q: a public DNS name is needed (ACME does not issue for single-label names)", d))
			}
			hosts = append(hosts, d)
		}
	}
	if dataDir == "" {
		return nil, usageError("--acme-domain needs --data DIR (the certificates are kept in DIR/acme)")
	}
	dir := filepath.Join(dataDir, "acme")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	client := &acme.Client{DirectoryURL: *o.directory}
	if *o.caFile != "" {
		pem, err := os.ReadFile(*o.caFile)
		if err != nil {
			return nil, fmt.Errorf("--acme-ca-file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, usageError("--acme-ca-file: no PEM certificate in " + *o.caFile)
		}
		client.HTTPClient = &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	}
	return &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(dir),
		HostPolicy: autocert.HostWhitelist(hosts...),
		Email:      *o.email,
		Client:     client,
	}, nil
}
