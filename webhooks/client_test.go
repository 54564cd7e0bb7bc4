package webhooks_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/likeness/likeness/webhooks"
)

func TestCheckAddr(t *testing.T) {
	tests := []struct {
		ip           string
		strict       string // "" = allowed by default, else a word of the refusal
		allowPrivate bool   // allowed with allowPrivate
	}{
		{"93.184.215.14", "", true},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", "", true},
		{"8.8.8.8", "", true},
		{"127.0.0.1", "loopback", true},
		{"127.255.0.9", "loopback", true},
		{"::1", "loopback", true},
		{"::ffff:127.0.0.1", "loopback", true}, // IPv4-mapped
		{"10.1.2.3", "private", true},
		{"172.16.0.1", "private", true},
		{"172.31.255.255", "private", true},
		{"172.32.0.1", "", true},
		{"192.168.1.1", "private", true},
		{"fd12:3456::1", "private", true},
		{"169.254.1.1", "link-local", true},
		{"fe80::1", "link-local", true},
		{"100.64.0.1", "CGNAT", true},
		{"100.127.255.254", "CGNAT", true},
		{"198.18.0.1", "special", true},
		{"192.0.2.10", "special", true},
		{"169.254.169.254", "metadata", false},
		{"100.100.100.200", "metadata", false},
		{"fd00:ec2::254", "metadata", false},
		{"::ffff:169.254.169.254", "metadata", false},
		{"0.0.0.0", "unspecified", false},
		{"0.1.2.3", "unspecified", false},
		{"::", "unspecified", false},
		{"224.0.0.1", "multicast", false},
		{"239.255.255.250", "multicast", false},
		{"ff02::1", "multicast", false},
		{"255.255.255.255", "reserved", false},
		{"64:ff9b::7f00:1", "embeds 127.0.0.1", true},           // NAT64 of loopback
		{"64:ff9b::a9fe:a9fe", "embeds 169.254.169.254", false}, // NAT64 of metadata
		{"64:ff9b::808:808", "", true},                          // NAT64 of a public address
		{"2002:c0a8:101::1", "embeds 192.168.1.1", true},        // 6to4 of a private address
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		err := webhooks.CheckAddr(ip, false)
		switch {
		case tt.strict == "" && err != nil:
			t.Errorf("CheckAddr(%s) = %v, want allowed", tt.ip, err)
		case tt.strict != "" && (err == nil || !strings.Contains(err.Error(), tt.strict)):
			t.Errorf("CheckAddr(%s) = %v, want a refusal naming %q", tt.ip, err, tt.strict)
		}
		if err := webhooks.CheckAddr(ip, true); (err == nil) != tt.allowPrivate {
			t.Errorf("CheckAddr(%s, allowPrivate) = %v, want allowed %v", tt.ip, err, tt.allowPrivate)
		}
	}
}

// TestClientRefusesAfterDNS checks the refusal happens on the dialled
// address: "localhost" is a name, refused once it resolves to loopback.
func TestClientRefusesAfterDNS(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	byName := "http://localhost:" + u.Port() + "/hook"

	strict := webhooks.NewClient(5*time.Second, false, 4)
	for _, target := range []string{srv.URL + "/hook", byName} {
		resp, err := strict.Post(target, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("POST %s: no error", target)
		}
		if !strings.Contains(err.Error(), "not allowed (loopback)") {
			t.Errorf("POST %s: %v", target, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the receiver was reached %d times", hits.Load())
	}

	dev := webhooks.NewClient(5*time.Second, true, 4)
	resp, err := dev.Post(byName, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatalf("hits %d with allowPrivate", hits.Load())
	}
}

func TestClientIgnoresProxyEnvironment(t *testing.T) {
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proxied.Add(1) }))
	defer proxy.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	resp, err := webhooks.NewClient(5*time.Second, true, 4).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if proxied.Load() != 0 {
		t.Fatal("the request went through the proxy from the environment")
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed.Add(1) }))
	defer target.Close()
	for _, code := range []int{301, 302, 303, 307, 308} {
		redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, code)
		}))
		resp, err := webhooks.NewClient(5*time.Second, true, 4).Post(redir.URL, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		redir.Close()
		if resp.StatusCode != code {
			t.Errorf("status %d, want the %d itself", resp.StatusCode, code)
		}
	}
	if followed.Load() != 0 {
		t.Fatalf("a redirect was followed %d times", followed.Load())
	}
}
