package webhooks

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDescribeHidesAddresses(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&net.DNSError{Err: "no such host", Name: "hooks.example", Server: "10.0.0.2:53", IsNotFound: true}, "The host name does not exist."},
		{&net.DNSError{Err: "i/o", Name: "hooks.example", Server: "10.0.0.2:53"}, "The host name could not be resolved."},
		{&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 443}, Err: syscall.ECONNREFUSED}, "The connection was refused."},
		{errors.New("dial tcp 10.1.2.3:443: something odd"), "The request failed."},
	} {
		got := describe(tc.err, time.Second)
		if got != tc.want || strings.Contains(got, "10.") {
			t.Errorf("describe(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
