package bench

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/config"
)

// TestSandboxCommand: `gateway bench sandbox` prints an upstreams section that a gateway's
// configuration loads as it is (no sandbox of its own, the default routes), and serves the
// voice upstream there until its context ends.
func TestSandboxCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	done := make(chan int)
	go func() { done <- runSandbox(ctx, w, io.Discard); w.Close() }()
	buf := make([]byte, 4096)
	n, err := io.ReadAtLeast(r, buf, 1)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	file := filepath.Join(t.TempDir(), "upstreams.yaml")
	if err := os.WriteFile(file, buf[:n], 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(file, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, buf[:n])
	}
	voice := c.Upstreams[config.SandboxVoice]
	if c.Sandbox || voice.URL == "" || c.Upstreams[config.SandboxSMS].URL == "" || voice.Pipeline != 0 || len(c.Routes) != 3 {
		t.Fatalf("config from %q: sandbox %v, upstreams %+v, %d routes", buf[:n], c.Sandbox, c.Upstreams, len(c.Routes))
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI(voice.URL + "/v1/Account/SA_1/Call/")
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil || resp.StatusCode() != 201 {
		t.Errorf("voice sandbox: %v, status %d", err, resp.StatusCode())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
	if code := Main([]string{"sandbox", "extra"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("sandbox with an argument: exit %d, want 2", code)
	}
}
