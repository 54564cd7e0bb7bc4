package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/likeness/likeness/server"
)

// certReloader serves one certificate and key pair and swaps it
// atomically when asked: connections already open keep theirs, new
// handshakes get the new one.
type certReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

// newCertReloader loads the pair once; an unreadable or mismatched pair is
// an error.
func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again; on error the certificate in use stays.
func (r *certReloader) Reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s / key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert.Store(&c)
	return nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// serverTLSConfig is TLS 1.2 at least, and for 1.2 only forward-secret
// AEAD suites (TLS 1.3's suites are all modern and not configurable).
func serverTLSConfig(r *certReloader) *tls.Config {
	c := &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384},
		NextProtos:       []string{"http/1.1"}, // the widget's WebSocket needs HTTP/1.1
	}
	if r != nil {
		c.GetCertificate = r.GetCertificate
	}
	return c
}

// reloadOnSIGHUP reloads r at every SIGHUP until the returned stop is
// called; a failed reload is logged and the old certificate kept.
func reloadOnSIGHUP(r *certReloader, log *slog.Logger) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-ch:
				if err := r.Reload(); err != nil {
					log.Error("TLS reload failed; the previous certificate stays", "err", err)
				} else {
					log.Info("TLS certificate reloaded", "cert", r.certFile)
				}
			}
		}
	}()
	return func() { signal.Stop(ch); close(done); <-finished }
}

// redirectToHTTPS answers every plain-HTTP request with a permanent
// redirect to the same path and query on base (https://host[:port]).
func redirectToHTTPS(base string) http.Handler {
	base = strings.TrimRight(base, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// A body sent over plain HTTP has already leaked; make the client notice.
			http.Error(w, "use HTTPS", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, base+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
}

// serveRedirect runs the HTTP→HTTPS redirect listener (h) on addr until
// ctx ends; the returned wait blocks until it has stopped.
func serveRedirect(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (wait func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--http-redirect-addr: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP redirect listener", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	return func() { <-done }, nil
}

// tlsOptions are serve's TLS flags.
type tlsOptions struct {
	cert, key, redirectAddr *string
	acme                    acmeOptions // acme.go
}

// tlsFlags registers --tls-cert, --tls-key and --http-redirect-addr.
func tlsFlags(fs *flag.FlagSet) tlsOptions {
	return tlsOptions{
		cert:         fs.String("tls-cert", "", "serve HTTPS with this PEM certificate chain (reloaded on SIGHUP)"),
		key:          fs.String("tls-key", "", "the PEM private key of --tls-cert"),
		redirectAddr: fs.String("http-redirect-addr", "", "also listen on HOST:PORT for plain HTTP and redirect it to HTTPS (needs --tls-cert or --acme-domain); it answers ACME HTTP-01 challenges too"),
		acme: acmeOptions{
			domains:   fs.String("acme-domain", "", "obtain and renew certificates by ACME for these comma-separated DNS names (instead of --tls-cert)"),
			email:     fs.String("acme-email", "", "contact address for the ACME account (expiry notices)"),
			directory: fs.String("acme-directory", acme.LetsEncryptURL, "ACME directory URL"),
			caFile:    fs.String("acme-ca-file", "", "PEM roots to trust for a private ACME directory (default: the system roots)"),
		},
	}
}

// listen wraps ln in TLS when asked, sets the default public URL
// (http:// or https:// and the listening address), and starts the SIGHUP
// reload and the redirect listener; stop ends both.
func (o tlsOptions) listen(ctx context.Context, ln net.Listener, publicURL *string, dataDir string, log *slog.Logger) (net.Listener, func(), error) {
	if (*o.cert == "") != (*o.key == "") {
		return nil, nil, usageError("--tls-cert and --tls-key go together")
	}
	if *o.cert != "" && o.acme.enabled() {
		return nil, nil, usageError("--acme-domain replaces --tls-cert and --tls-key: give one or the other")
	}
	if *o.cert == "" && !o.acme.enabled() {
		if *o.redirectAddr != "" {
			return nil, nil, usageError("--http-redirect-addr needs --tls-cert and --tls-key, or --acme-domain")
		}
		if *publicURL == "" {
			*publicURL = "http://" + ln.Addr().String()
		}
		return ln, func() {}, nil
	}
	var (
		cfg        *tls.Config
		stopReload = func() {}
		wrap       = func(h http.Handler) http.Handler { return h }
	)
	if o.acme.enabled() {
		m, err := o.acme.manager(dataDir)
		if err != nil {
			return nil, nil, err
		}
		cfg = serverTLSConfig(nil)
		cfg.GetCertificate = m.GetCertificate
		cfg.NextProtos = append(cfg.NextProtos, acme.ALPNProto) // TLS-ALPN-01 challenges
		wrap = m.HTTPHandler                                    // HTTP-01 challenges on the redirect listener
		if *publicURL == "" {
			host := strings.TrimSpace(strings.Split(*o.acme.domains, ",")[0])
			if _, port, _ := net.SplitHostPort(ln.Addr().String()); port != "443" {
				host = net.JoinHostPort(host, port)
			}
			*publicURL = "https://" + host
		}
	} else {
		r, err := newCertReloader(*o.cert, *o.key)
		if err != nil {
			return nil, nil, err
		}
		cfg = serverTLSConfig(r)
		stopReload = reloadOnSIGHUP(r, log)
	}
	if *publicURL == "" {
		*publicURL = "https://" + ln.Addr().String()
	}
	ctx, cancel := context.WithCancel(ctx)
	wait := func() {}
	if *o.redirectAddr != "" {
		var err error
		if wait, err = serveRedirect(ctx, *o.redirectAddr, wrap(redirectToHTTPS(*publicURL)), log); err != nil {
			cancel()
			stopReload()
			return nil, nil, err
		}
	}
	return server.TLSListener{Listener: ln, Config: cfg}, func() { cancel(); wait(); stopReload() }, nil
}
