package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tenantgw/gateway/bench/testkit"
)

// The console's browser tests (API.md §10): real headless Chromium (Debian's chromium, which
// ./test.sh installs when it is missing) driven through the DevTools protocol, against a
// whole gateway on loopback with the sandbox upstreams. Each step saves a full-page
// screenshot under test-output/console/ (CONSOLE_SCREENSHOTS overrides the folder), and
// every test fails on a request to another origin than the listener's, a script error or a
// Content-Security-Policy violation. Without chromium the tests fail, they do not skip.

// chromiumPath finds Debian's chromium (or a Chrome) on PATH.
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the console's browser tests need Chromium: none of chromium, chromium-browser or google-chrome is on PATH " +
		"(./test.sh installs Debian's chromium with apt-get; or run: apt-get install chromium)")
	return ""
}

// browser is one headless Chromium tab on a listener's console, with what it saw.
type browser struct {
	t      *testing.T
	ctx    context.Context
	origin string // scheme://host:port of the listener

	mu       sync.Mutex
	urls     []string // every request the page sent
	problems []string // script errors and CSP violations
}

func newBrowser(t *testing.T, addr string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 1000), chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-gpu", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, origin: "http://" + addr}
	if err := chromedp.Listen(ctx, b.event); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	b.do(chromedp.Navigate(b.origin + "/console/"))
	b.wait(`document.readyState === "complete" && document.activeElement && document.activeElement.tagName === "INPUT"`)
	return b
}

// event keeps what the page requested and what went wrong in it (it runs in chromedp's
// event loop: no commands here).
func (b *browser) event(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.urls = append(b.urls, e.Request.URL)
	case *runtime.EventExceptionThrown:
		msg := e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
		b.problems = append(b.problems, "script error: "+msg)
	case *log.EventEntryAdded:
		// A refused fetch is logged by the network (the page shows the API's message); a
		// CSP violation or any other error is a problem.
		if strings.Contains(e.Entry.Text, "Content Security Policy") || e.Entry.Level == log.EntryLevelError && e.Entry.Source != log.EntrySourceNetwork {
			b.problems = append(b.problems, "console: "+e.Entry.Text)
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type == "error" {
			b.problems = append(b.problems, "console.error")
		}
	}
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail(fmt.Sprintf("%v", err))
	}
}

// wait polls the JavaScript expression until it is truthy (20 s at most).
func (b *browser) wait(expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		b.fail(fmt.Sprintf("waiting for %s: %v", expr, err))
	}
}

func (b *browser) js(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.fail(fmt.Sprintf("evaluating %s: %v", expr, err))
	}
	return v
}

// text is the visible text of the first element css selects.
func (b *browser) text(css string) string {
	b.t.Helper()
	return b.js(`(document.querySelector(` + quote(css) + `) || {innerText: ""}).innerText`)
}

func (b *browser) click(css string) { b.t.Helper(); b.do(chromedp.Click(chromedp.CSS(css))) }
func (b *browser) typeIn(css, s string) {
	b.t.Helper()
	b.do(chromedp.SendKeys(chromedp.CSS(css), s))
}

func quote(s string) string { q, _ := json.Marshal(s); return string(q) }

// fill replaces the value of the input or select css selects, as a user's edit does (an
// input event, then a change event).
func (b *browser) fill(css, v string) {
	b.t.Helper()
	b.js(`(() => { const e = document.querySelector(` + quote(css) + `); e.value = ` + quote(v) +
		`; e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); return "" })()`)
}

// check clicks the checkbox css selects when it is not already checked (on) or unchecked.
func (b *browser) check(css string, on bool) {
	b.t.Helper()
	if b.js(`String(document.querySelector(`+quote(css)+`).checked)`) != fmt.Sprint(on) {
		b.click(css)
	}
}

// keys sends key events to the element that has the focus, as typing does ("\t" is Tab,
// "\r" Enter).
func (b *browser) keys(s string) { b.t.Helper(); b.do(chromedp.KeyEvent(s)) }

// tabTo presses Tab until the element css selects has the focus (at most 150 times): it
// fails when the element cannot be reached from the keyboard.
func (b *browser) tabTo(css string) {
	b.t.Helper()
	for range 150 {
		if b.js(`String(!!document.activeElement && document.activeElement.matches(`+quote(css)+`))`) == "true" {
			return
		}
		b.keys("\t")
	}
	b.fail("Tab never reaches " + css)
}

// named checks, in the page, that every input, select, textarea, button and summary has an
// accessible name (a label element, aria-labelledby naming elements with text, aria-label, or
// a button's own text), that none is taken out of the Tab order or put ahead of it (tabindex
// -1 or above 0), and that at least min of them are shown.
func (b *browser) named(min int) {
	b.t.Helper()
	out := b.js(`(() => {
		const bad = [];
		let shown = 0;
		for (const e of document.querySelectorAll("input, select, textarea, button, summary")) {
			if (e.getClientRects().length > 0) shown++;
			let name = "";
			const by = e.getAttribute("aria-labelledby");
			if (by) name = by.split(/\s+/).map((id) => (document.getElementById(id) || {}).textContent || "").join(" ");
			if (!name.trim()) name = e.getAttribute("aria-label") || "";
			if (!name.trim() && e.labels) name = [...e.labels].map((l) => l.textContent).join(" ");
			if (!name.trim() && (e.tagName === "BUTTON" || e.tagName === "SUMMARY")) name = e.textContent;
			if (!name.trim()) bad.push("no accessible name: " + e.outerHTML.slice(0, 160));
			const ti = e.getAttribute("tabindex");
			if (ti !== null && Number(ti) !== 0) bad.push("tabindex " + ti + ": " + e.outerHTML.slice(0, 160));
		}
		return JSON.stringify({shown, bad});
	})()`)
	var r struct {
		Shown int
		Bad   []string
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		b.fail(err.Error())
	}
	for _, m := range r.Bad {
		b.t.Error(m)
	}
	if r.Shown < min {
		b.t.Errorf("%d controls shown, want at least %d", r.Shown, min)
	}
}

// answer makes the page's requests whose URL matches pattern (the wildcards of the DevTools
// protocol's Fetch.enable) get status and the JSON body instead of the listener's answer,
// until the returned func is called.
func (b *browser) answer(pattern string, status int, body []byte) (stop func()) {
	b.t.Helper()
	ctx, cancel := context.WithCancel(b.ctx)
	ready, done := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(done)
		_ = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			paused := cdp.Events(ctx, tg, fetch.RequestPaused)
			_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: pattern}}})
			ready <- err
			if err != nil {
				return err
			}
			for ev, err := range paused {
				if err != nil {
					return err
				}
				_, _ = cdp.Call(ctx, tg, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: ev.RequestID,
					ResponseCode: int64(status), Body: body,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}}})
			}
			return nil
		}))
	}()
	if err := <-ready; err != nil {
		cancel()
		b.fail("intercepting " + pattern + ": " + err.Error())
	}
	return func() {
		cancel()
		<-done
		b.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, fetch.Disable, cdp.Empty{})
			return err
		}))
	}
}

// fail saves a screenshot of the page as it is and fails the test with what the page shows.
func (b *browser) fail(msg string) {
	b.t.Helper()
	b.shotAs(strings.ReplaceAll(b.t.Name(), "/", "-") + "-failed")
	v, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 1500)`))
	b.t.Fatalf("%s\npage shows:\n%s", msg, v)
}

var screenshotDir = sync.OnceValue(func() string {
	if d := os.Getenv("CONSOLE_SCREENSHOTS"); d != "" {
		return d
	}
	return filepath.Join("test-output", "console")
})

// shot saves a full-page screenshot named after the test.
func (b *browser) shot() {
	b.t.Helper()
	b.shotAs(strings.ReplaceAll(b.t.Name(), "/", "-"))
}

func (b *browser) shotAs(name string) {
	// From the top, where the sticky message bar belongs.
	_, _ = chromedp.Run(b.ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot: %v", err)
		return
	}
	dir := screenshotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", p)
}

// clean fails the test for a request to another origin, a script error or a CSP violation.
func (b *browser) clean() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.urls) == 0 {
		b.t.Fatal("the network log is empty")
	}
	for _, u := range b.urls {
		p, err := url.Parse(u)
		if err != nil || p.Scheme != "data" && p.Scheme+"://"+p.Host != b.origin {
			b.t.Errorf("a request to another origin than %s: %s", b.origin, u)
		}
	}
	for _, p := range b.problems {
		b.t.Errorf("in the page: %s", p)
	}
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9]{40}$`)

// step runs one step of a scenario as a subtest; the scenario stops at the first that fails.
func step(t *testing.T, name string, fn func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, fn) {
		t.FailNow()
	}
}

// TestConsoleAccountHolder: a main account signs in on the public listener, creates a
// subaccount and reads its one-time token, moves money to it and sees both balances change,
// gives it a number, sees the API's message after a bad transfer, suspends it and sees its
// status, and sees the usage chart drawn after some proxied calls.
func TestConsoleAccountHolder(t *testing.T) {
	s := startSandboxStack(t, stackOptions{})
	ma := testkit.NewMain(t, s.ops, s.opToken, "Acme Telecom", "100.00")
	if r := testkit.Do(t, s.ops, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + ma.ID + "/Number/", Bearer: s.opToken,
		Body: `{"number":"+14155550100"}`}); r.Status != 201 {
		t.Fatalf("add a number: %d %s", r.Status, r.Body)
	}
	b := newBrowser(t, s.pub.Addr)

	step(t, "sign in", func(t *testing.T) {
		b.t = t
		b.typeIn("#in-id", ma.ID)
		b.typeIn("#in-token", ma.Token+"\r") // Enter submits: the form works from the keyboard
		b.wait(`!document.getElementById("app").hidden && document.querySelectorAll("#balance dd").length > 0 && document.querySelectorAll("#account dd").length > 0`)
		if got := b.text("#balance"); !strings.Contains(got, "100.00 USD") {
			t.Fatalf("balance card: %q", got)
		}
		b.wait(`document.getElementById("numbers").innerText.includes("+14155550100")`)
		if got := b.text("#who"); !strings.Contains(got, ma.ID) {
			t.Fatalf("signed in as %q", got)
		}
		b.shot()
	})

	var sa testkit.Cred
	step(t, "create a subaccount", func(t *testing.T) {
		b.t = t
		b.click("#create-box summary")
		b.typeIn("#c-name", "Support Team")
		b.click("#c-own")
		b.click("#create-form button[type=submit]")
		b.wait(`!document.getElementById("token-box").hidden && document.querySelector("#tree li[data-id]")`)
		sa = testkit.Cred{ID: b.js(`document.querySelector("#tree li[data-id]").dataset.id`), Token: b.text("#token-value")}
		if !tokenRE.MatchString(sa.Token) {
			t.Fatalf("one-time token %q", sa.Token)
		}
		// The token shown is the subaccount's.
		if r := testkit.Do(t, s.pub, testkit.Request{Method: "GET", Path: "/v1/Account/" + sa.ID + "/", Cred: &sa}); r.Status != 200 {
			t.Fatalf("the token shown does not sign in: %d %s", r.Status, r.Body)
		}
		b.shot()
		b.click("#token-hide")
		if b.text("#token-value") != "" {
			t.Fatal("the token is still in the page after it was put away")
		}
	})

	step(t, "move money", func(t *testing.T) {
		b.t = t
		b.click(`#tree li[data-id="` + sa.ID + `"] .manage`)
		b.wait(`!document.getElementById("detail").hidden`)
		b.typeIn("#m-amount", "25.00")
		b.typeIn("#m-ref", "March budget")
		b.click("#m-submit")
		b.wait(`document.getElementById("detail-facts").innerText.includes("25.00 USD") && document.getElementById("balance").innerText.includes("75.00 USD")`)
		// The transfers list is fetched after the balances: wait for it, it is not there at once.
		b.wait(`document.getElementById("transfers").innerText.includes("March budget")`)
		if !strings.Contains(b.text("#notice"), "Moved 25.00 USD") {
			t.Fatalf("notice %q, transfers %q", b.text("#notice"), b.text("#transfers"))
		}
		b.shot()
	})

	step(t, "move a number", func(t *testing.T) {
		b.t = t
		b.typeIn("#n-number", "+14155550100")
		b.typeIn("#n-to", sa.ID)
		b.click("#number-form button[type=submit]")
		b.wait(`document.getElementById("numbers").innerText.includes("` + sa.ID + `")`)
		r := testkit.Do(t, s.pub, testkit.Request{Method: "GET", Path: "/v1/Account/" + sa.ID + "/Number/", Cred: &ma})
		if !strings.Contains(string(r.Body), "+14155550100") {
			t.Fatalf("the API says %d %s", r.Status, r.Body)
		}
		b.shot()
	})

	step(t, "bad transfer", func(t *testing.T) {
		b.t = t
		// What the API answers to the same request (refused, so it moves nothing either time).
		want := testkit.Do(t, s.pub, testkit.Request{Method: "POST", Path: "/v1/Account/" + ma.ID + "/Transfer/", Cred: &ma,
			ContentType: "application/json", Body: `{"to":"` + sa.ID + `","amount":"500.00"}`})
		if want.Status != 402 || want.Err.Error.Message == "" {
			t.Fatalf("the API answered %d %s", want.Status, want.Body)
		}
		b.typeIn("#m-amount", "500.00")
		b.click("#m-submit")
		b.wait(`!document.getElementById("error").hidden`)
		got := b.text("#error")
		if !strings.Contains(got, want.Err.Error.Code) || !strings.Contains(got, want.Err.Error.Message) {
			t.Fatalf("the page shows %q, the API said %s: %s", got, want.Err.Error.Code, want.Err.Error.Message)
		}
		if !strings.Contains(b.text("#balance"), "75.00 USD") {
			t.Fatalf("balance after a refused transfer: %q", b.text("#balance"))
		}
		b.shot()
	})

	step(t, "suspend", func(t *testing.T) {
		b.t = t
		b.click("#d-suspend")
		b.wait(`document.querySelector("#detail-facts .badge.suspended") && document.querySelector('#tree li[data-id="` + sa.ID + `"] .badge.suspended')`)
		r := testkit.Do(t, s.pub, testkit.Request{Method: "GET", Path: "/v1/Account/" + sa.ID + "/", Cred: &ma})
		if r.JSON(t)["status"] != "suspended" {
			t.Fatalf("the API says %s", r.Body)
		}
		b.shot()
	})

	step(t, "usage chart", func(t *testing.T) {
		b.t = t
		for range 5 {
			r := testkit.Do(t, s.pub, testkit.Request{Method: "POST", Path: "/v1/Account/" + ma.ID + "/Call/", Cred: &ma,
				ContentType: "application/json", Body: `{"from":"+14155550100","to":"+14155550111","answer_url":"https://example.com/a"}`})
			if r.Status/100 != 2 {
				t.Fatalf("proxied call: %d %s", r.Status, r.Body)
			}
		}
		b.click("#usage-reload")
		b.wait(`document.querySelector("#chart canvas") && Number(document.getElementById("chart").dataset.points) > 0 && document.getElementById("usage-totals").innerText.includes("voice.call")`)
		if got := b.text("#usage-totals"); !strings.Contains(got, "5") || !strings.Contains(got, "0.0500") {
			t.Fatalf("usage totals %q", got)
		}
		b.shot()
	})
	b.t = t
	b.clean()
}

// TestConsoleOperator: the operator signs in on the operator listener with the operator
// token, creates a main account (its token shown once) and credits it; every control of the
// page has an accessible name (see named).
func TestConsoleOperator(t *testing.T) {
	s := startSandboxStack(t, stackOptions{})
	testkit.NewMain(t, s.ops, s.opToken, "Initech", "12.50")
	b := newBrowser(t, s.ops.Addr)

	step(t, "sign in", func(t *testing.T) {
		b.t = t
		b.typeIn("#in-op", s.opToken+"\r")
		b.wait(`!document.getElementById("ops").hidden && document.getElementById("mains").innerText.includes("Initech")`)
		b.shot()
	})

	var id string
	step(t, "create and credit a main account", func(t *testing.T) {
		b.t = t
		b.typeIn("#cm-name", "Globex")
		b.click("#main-form button[type=submit]")
		b.wait(`!document.getElementById("op-token-box").hidden && document.getElementById("mains").innerText.includes("Globex")`)
		if tok := b.text("#op-token-value"); !tokenRE.MatchString(tok) {
			t.Fatalf("one-time token %q", tok)
		}
		id = b.js(`document.getElementById("cr-id").value`)
		b.typeIn("#cr-amount", "50.00")
		b.typeIn("#cr-ref", "first top-up")
		b.click("#credit-form button[type=submit]")
		b.wait(`document.querySelector('#mains tr[data-id="` + id + `"]') && document.querySelector('#mains tr[data-id="` + id + `"]').innerText.includes("50.00 USD")`)
		r := testkit.Do(t, s.ops, testkit.Request{Method: "GET", Path: "/admin/v1/Account/" + id + "/", Bearer: s.opToken})
		if m := r.JSON(t); m["name"] != "Globex" || m["balance"] != "50.00" {
			t.Fatalf("the API says %s", r.Body)
		}
		b.shot()
	})

	step(t, "every control has a name", func(t *testing.T) {
		b.t = t
		b.named(15)
	})
	b.t = t
	b.clean()
}
