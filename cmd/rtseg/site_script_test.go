package main

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

// cmdSite starts, on loopback, something other than the service where a
// script points rtseg: site page (a web page), site redirect=URL (a 307 to
// URL), site tls (the emulator behind a self-signed certificate) or site
// closed (an address nothing listens on). It sets $SITE, the base URL, and
// $SITEADDR, its host:port.
func cmdSite(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: site page|redirect=URL|tls|closed")
	}
	var srv *httptest.Server
	switch kind, to, _ := strings.Cut(args[0], "="); kind {
	case "page":
		srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<!doctype html><title>Welcome</title><p>Nothing to see here.\n")
		}))
	case "redirect":
		srv = httptest.NewServer(http.RedirectHandler(to, http.StatusTemporaryRedirect))
	case "tls":
		srv = httptest.NewUnstartedServer(xandrtest.NewHandler())
		// The handshakes rtseg refuses are not the script's output.
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.StartTLS()
	case "closed":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		addr := l.Addr().String()
		ts.Check(l.Close())
		ts.Setenv("SITE", "http://"+addr)
		ts.Setenv("SITEADDR", addr)
		return
	default:
		ts.Fatalf("site: unknown kind %q", args[0])
	}
	ts.Defer(srv.Close)
	ts.Setenv("SITE", srv.URL)
	ts.Setenv("SITEADDR", srv.Listener.Addr().String())
}
