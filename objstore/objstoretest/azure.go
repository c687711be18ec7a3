package objstoretest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
)

// Azurite's one account and its published key.
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// ErrNoAzurite is returned by NewAzure when Azurite is not installed.
var ErrNoAzurite = errors.New("azurite-blob not found: install it with npm (see .ci/run), or set AZURITE_BLOB to its path")

// Azure is Azurite's blob service, run as a program on loopback, behind
// Faults.
type Azure struct {
	*Faults
	cmd    *exec.Cmd
	dir    string // Azurite's working directory, removed when it stops
	srv    *httptest.Server
	client *azblob.Client
}

// AzuriteBinary finds azurite-blob: $AZURITE_BLOB, or on PATH.
func AzuriteBinary() (string, error) {
	if p := os.Getenv("AZURITE_BLOB"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("azurite-blob"); err == nil {
		return p, nil
	}
	return "", ErrNoAzurite
}

var listening = regexp.MustCompile(`listens on (http://[0-9.]+:[0-9]+)`)

// NewAzure starts Azurite, keeping its data in memory.
func NewAzure() (*Azure, error) {
	bin, err := AzuriteBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "azurite")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
		"--skipApiVersionCheck", "--loose", "--disableTelemetry")
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	a := &Azure{cmd: cmd, dir: dir}
	found := make(chan string, 1)
	go func() {
		var said []string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				io.Copy(io.Discard, out)
				return
			}
			said = append(said, sc.Text())
		}
		found <- "ended: " + strings.Join(said, "\n")
	}()
	var base string
	select {
	case base = <-found:
	case <-time.After(60 * time.Second):
		a.Close()
		return nil, errors.New("azurite did not start within 60s")
	}
	if said, ok := strings.CutPrefix(base, "ended: "); ok {
		a.Close()
		return nil, fmt.Errorf("azurite did not start: %s", said)
	}
	target, err := url.Parse(base)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Faults = newFaults(httputil.NewSingleHostReverseProxy(target), func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("x-ms-error-code", "AuthorizationPermissionMismatch")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized to perform this operation using this permission.</Message></Error>`)
	})
	a.srv = httptest.NewServer(a.Faults)
	cred, err := azblob.NewSharedKeyCredential(azuriteAccount, azuriteKey)
	if err != nil {
		a.Close()
		return nil, err
	}
	if a.client, err = azblob.NewClientWithSharedKeyCredential(base+"/"+azuriteAccount, cred, nil); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// Close stops Azurite.
func (a *Azure) Close() {
	if a.srv != nil {
		a.srv.Close()
	}
	a.cmd.Process.Kill()
	a.cmd.Wait()
	os.RemoveAll(a.dir)
}

// Env gives the client Azurite's account and key, as
// AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY give a real one's.
func (a *Azure) Env() map[string]string {
	return map[string]string{"AZURE_STORAGE_ACCOUNT": azuriteAccount, "AZURE_STORAGE_KEY": azuriteKey}
}

// Secret is the account key, which nothing should show.
func (a *Azure) Secret() string { return azuriteKey }

// URL is the azblob:// URL of a key (or prefix) in a container.
func (a *Azure) URL(container, key string) string {
	q := url.Values{"localemu": {"true"}, "protocol": {"http"}, "domain": {strings.TrimPrefix(a.srv.URL, "http://")}}
	return "azblob://" + container + "/" + key + "?" + q.Encode()
}

// CreateBucket makes a container.
func (a *Azure) CreateBucket(name string) error {
	_, err := a.client.CreateContainer(context.Background(), name, nil)
	return err
}

// Put stores a blob.
func (a *Azure) Put(container, key string, data []byte) error {
	_, err := a.client.UploadBuffer(context.Background(), container, key, data, nil)
	return err
}

// Get reads a blob.
func (a *Azure) Get(container, key string) ([]byte, error) {
	resp, err := a.client.DownloadStream(context.Background(), container, key, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := io.Copy(&b, resp.Body); err != nil {
		return nil, fmt.Errorf("reading %s/%s: %w", container, key, err)
	}
	return b.Bytes(), nil
}
