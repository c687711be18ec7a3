package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write samples/report.png from the browser's screenshot of the demo's page")

// browser finds the headless browser the page tests drive: Debian's
// chromium, which .ci/run installs. Without one the test is skipped,
// saying so, except in CI, which must have one.
func browser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	const why = "no browser (chromium) is installed: the run page is not checked in a browser; apt-get install chromium, as .ci/run does"
	if os.Getenv("CI") != "" {
		t.Fatal(why + ", and CI must check it")
	}
	t.Skip(why)
	return ""
}

// pageInBrowser is what the browser found on a page.
type pageInBrowser struct {
	Title  string `json:"title"`
	Totals []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
		Text  string `json:"text"`
	} `json:"totals"`
	Tables []struct {
		ID      string `json:"id"`
		Caption string `json:"caption"`
		Headers int    `json:"headers"`
		Rows    []int  `json:"rows"` // cells in each row of the body
	} `json:"tables"`
	Charts []struct {
		Role string `json:"role"`
		Name string `json:"name"` // the text its aria-labelledby names
		Desc string `json:"desc"`
	} `json:"charts"`
	Scripts  int `json:"scripts"`
	Width    int `json:"width"`    // of the document
	Viewport int `json:"viewport"` // of the window
	// Wide are the first elements past the window's right edge.
	Wide []string `json:"wide"`
}

// readPage is run in the page: it reads from the DOM the counts shown,
// the tables with their headers, and the charts with their text
// alternatives.
const readPage = `(() => {
  const text = el => (el ? el.textContent : "").replace(/\s+/g, " ").trim();
  return {
    title: document.title,
    totals: [...document.querySelectorAll("[data-total]")].map(el => ({name: el.dataset.total, value: el.dataset.value, text: text(el)})),
    tables: [...document.querySelectorAll("table")].map(t => ({
      id: t.id, caption: text(t.caption),
      headers: t.querySelectorAll("thead th").length,
      rows: [...t.tBodies].flatMap(b => [...b.rows]).map(r => r.cells.length),
    })),
    charts: [...document.querySelectorAll("svg")].map(s => ({
      role: s.getAttribute("role") || "",
      name: (s.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean).map(id => text(document.getElementById(id))).join(" "),
      desc: text(s.querySelector("desc")),
    })),
    scripts: document.scripts.length,
    width: document.documentElement.scrollWidth,
    wide: [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5)
      .map(e => e.tagName.toLowerCase() + " " + text(e).slice(0, 60)),
    viewport: window.innerWidth,
  };
})()`

// openPage loads the page at path from disk in a headless browser, reads
// it, takes a screenshot of it, and checks that it fetched nothing.
func openPage(t *testing.T, path string) (pageInBrowser, []byte) {
	t.Helper()
	exe := browser(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1200, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	url := "file://" + filepath.ToSlash(abs)
	var mu sync.Mutex
	var fetched []string
	if err := chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request != nil && e.Request.URL != url {
			mu.Lock()
			fetched = append(fetched, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("load %s in %s: %v", url, exe, err)
	}
	got, err := chromedp.Run(bctx, chromedp.Evaluate[pageInBrowser](readPage))
	if err != nil {
		t.Fatalf("read the page's DOM: %v", err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(fetched) > 0 {
		t.Errorf("the page fetched %q; it must fetch nothing", fetched)
	}
	return got, shot
}

// checkPage checks what the browser found against the run's summary: each
// count shown is the summary's and reads as its value, every table has
// headers and rows as wide as them, and each chart has a text alternative.
func checkPage(t *testing.T, got pageInBrowser, summary string) {
	t.Helper()
	var s map[string]any
	b, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Title, "rtseg ") {
		t.Errorf("title %q, want one naming the run", got.Title)
	}
	shown := map[string]bool{}
	firstNumber := regexp.MustCompile(`-?[0-9][0-9,]*`)
	for _, c := range got.Totals {
		shown[c.Name] = true
		v, err := strconv.ParseInt(c.Value, 10, 64)
		if err != nil {
			t.Errorf("count %s has value %q, not a number", c.Name, c.Value)
			continue
		}
		if text := strings.ReplaceAll(firstNumber.FindString(c.Text), ",", ""); text != c.Value {
			t.Errorf("count %s reads %q on the page, its value is %s", c.Name, c.Text, c.Value)
		}
		if want, ok := summaryCount(s, c.Name); ok && v != want {
			t.Errorf("the page shows %s = %d, the summary says %d", c.Name, v, want)
		}
	}
	for _, must := range []string{"rows_read", "accepted", "invalid", "superseded", "warned", "failed", "skipped", "exit_status",
		"users", "requests", "retries", "throttled", "segments.accepted", "groups.invalid"} {
		if !shown[must] {
			t.Errorf("the page does not show %s", must)
		}
	}
	if len(got.Tables) == 0 {
		t.Errorf("the page has no table")
	}
	for i, tb := range got.Tables {
		if tb.Headers == 0 {
			t.Errorf("table %d (%s %q) has no header cells", i, tb.ID, tb.Caption)
		}
		for r, cells := range tb.Rows {
			if cells != tb.Headers {
				t.Errorf("table %d (%s %q), row %d: %d cells under %d headers", i, tb.ID, tb.Caption, r, cells, tb.Headers)
			}
		}
	}
	if len(got.Charts) == 0 {
		t.Errorf("the page has no chart")
	}
	for i, c := range got.Charts {
		if c.Role != "img" || len(c.Name) < 20 || c.Desc == "" {
			t.Errorf("chart %d: role %q, text alternative %q, description %q; want role img and a title and description saying what it shows", i, c.Role, c.Name, c.Desc)
		}
	}
	if got.Scripts != 0 {
		t.Errorf("the page holds %d scripts, want none", got.Scripts)
	}
	if got.Width > got.Viewport {
		t.Errorf("the page is %d pixels wide in a window of %d: it scrolls sideways (%q)", got.Width, got.Viewport, got.Wide)
	}
}

// checkScreenshot checks that the screenshot is a PNG with something on it,
// and keeps it in the test's temporary directory.
func checkScreenshot(t *testing.T, shot []byte, name string) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 600 {
		t.Errorf("the screenshot is %dx%d pixels, want a page", b.Dx(), b.Dy())
	}
	colours := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y && len(colours) < 16; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|bl>>8] = true
		}
	}
	if len(colours) < 16 {
		t.Errorf("the screenshot has %d colours: a blank page", len(colours))
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))
	return path
}

// TestPageInBrowser runs the README's demo, which writes the run page, and
// rtseg reconcile --html on its summary, and checks both pages in a real
// browser, loaded from disk. With -update-screenshot, the demo's page is
// kept as samples/report.png for the README.
func TestPageInBrowser(t *testing.T) {
	browser(t)
	t.Chdir("../..") // where the README runs the demo: its page then names samples/audience.csv
	var stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr, signal: func() int { return 0 }, getenv: func(string) string { return "" }}
	if code := e.execute(t.Context(), []string{"demo"}); code != exitOK {
		t.Fatalf("rtseg demo: exit %d\n%s", code, stderr.String())
	}
	page := regexp.MustCompile(`(?m)^rtseg: page: (.*)$`).FindStringSubmatch(stderr.String())
	if page == nil {
		t.Fatalf("rtseg demo does not say where its page is:\n%s", stderr.String())
	}
	dir := filepath.Dir(page[1])
	t.Cleanup(func() { os.RemoveAll(dir) })
	summary := filepath.Join(dir, "summary.json")

	got, shot := openPage(t, page[1])
	checkPage(t, got, summary)
	path := checkScreenshot(t, shot, "demo.png")
	if *updateScreenshot {
		if err := os.WriteFile(filepath.Join("samples", "report.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote samples/report.png from %s", path)
	}

	// The reconciled page, from an upload to an emulator that keeps
	// usage statistics, has the service's side and its hourly chart.
	srv := xandrtest.NewServer(xandrtest.WithToken("t0k3n"))
	defer srv.Close()
	e.getenv = func(k string) string { return map[string]string{"XANDR_TOKEN": "t0k3n"}[k] }
	out := t.TempDir()
	sum, reconciled := filepath.Join(out, "s.json"), filepath.Join(out, "reconciled.html")
	if code := e.execute(t.Context(), []string{"upload", "--endpoint", srv.URL + "/rt-segment", "--progress", "none",
		"--report", filepath.Join(out, "r.csv"), "--summary", sum, "--max-rejected", "100%", "samples"}); code != exitOK {
		t.Fatalf("rtseg upload: exit %d\n%s", code, stderr.String())
	}
	if code := e.execute(t.Context(), []string{"reconcile", "--summary", sum, "--html", reconciled}); code != exitOK {
		t.Fatalf("rtseg reconcile: exit %d\n%s", code, stderr.String())
	}
	got, shot = openPage(t, reconciled)
	checkPage(t, got, sum)
	checkScreenshot(t, shot, "reconciled.png")
	if len(got.Charts) != 2 {
		t.Errorf("the reconciled page has %d charts, want the throughput and the hours", len(got.Charts))
	}
	service := false
	for _, c := range got.Totals {
		service = service || c.Name == "service.users"
	}
	if !service {
		t.Errorf("the reconciled page does not show the service's count of users")
	}
}
