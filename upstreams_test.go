package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantgw/gateway/config"
	"github.com/tenantgw/gateway/gateway"
)

// TestGatewayUpstreams: every upstream setting reaches the gateway, pipelining and its delay
// included (an explicit 0 stays 0), and the sandbox upstreams are pipelined by default, plain
// keep-alive with sandbox_pipeline 0.
func TestGatewayUpstreams(t *testing.T) {
	sb, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"voice", "sms"} {
		if got := gatewayUpstreams(sb.Upstreams)[name]; got.Pipeline != config.DefaultSandboxPipeline || got.MaxConns != 512 ||
			got.PipelineDelay != config.DefaultPipelineDelay {
			t.Errorf("sandbox %s: %+v, want pipeline %d", name, got, config.DefaultSandboxPipeline)
		}
	}
	plain, err := config.Load("", []string{"GATEWAY_SANDBOX_PIPELINE=0"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"voice", "sms"} {
		if got := gatewayUpstreams(plain.Upstreams)[name]; got.Pipeline != 0 || got.MaxConns != 512 {
			t.Errorf("sandbox_pipeline 0: %s %+v, want a plain keep-alive upstream (pipeline 0)", name, got)
		}
	}
	file := filepath.Join(t.TempDir(), "gateway.yaml")
	yaml := "upstreams:\n" +
		"  voice: {url: \"http://v:9001\", timeout: 3s, connect_timeout: 1s, max_conns: 64, max_response_bytes: 4096, pipeline: 3, pipeline_delay: 200us}\n" +
		"  sms: {url: \"http://s:9002\"}\n" +
		"  fax: {url: \"http://f:9003\", pipeline: 2, pipeline_delay: 0s}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	ups := gatewayUpstreams(c.Upstreams)
	want := gateway.Upstream{URL: "http://v:9001", Timeout: 3 * time.Second, ConnectTimeout: time.Second,
		MaxConns: 64, MaxResponseBytes: 4096, Pipeline: 3, PipelineDelay: 200 * time.Microsecond}
	if ups["voice"] != want {
		t.Errorf("voice: %+v, want %+v", ups["voice"], want)
	}
	if ups["sms"].Pipeline != 0 || ups["sms"].MaxConns != 512 || ups["sms"].PipelineDelay != config.DefaultPipelineDelay {
		t.Errorf("sms: %+v, want no pipelining and the default max_conns and pipeline_delay", ups["sms"])
	}
	if ups["fax"].Pipeline != 2 || ups["fax"].PipelineDelay != 0 {
		t.Errorf("fax: %+v, want pipeline 2 with no delay", ups["fax"])
	}
}
