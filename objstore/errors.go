package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/googleapi"
)

// Error is a failure to reach or read an object store, naming the URL
// (secrets redacted) and saying how to go on.
type Error struct {
	URL  string // as Location.String shows it
	Err  error
	hint string
}

func (e *Error) Error() string { return e.URL + ": " + e.Err.Error() }

// Unwrap returns what went wrong, for errors.Is(err, fs.ErrNotExist) and
// the like.
func (e *Error) Unwrap() error { return e.Err }

// Hint says how to go on, or "".
func (e *Error) Hint() string { return e.hint }

// Reasons an Error wraps, for errors.Is.
var (
	// ErrNoBucket is a bucket that does not exist.
	ErrNoBucket = errors.New("the bucket does not exist")
	// ErrDenied is a request the store refused for the credentials used.
	ErrDenied = errors.New("access denied")
	// ErrEmpty is a prefix with no object under it.
	ErrEmpty = fmt.Errorf("no object at or under this prefix: %w", fs.ErrNotExist)
	// ErrChanged is an object replaced while it was read.
	ErrChanged = errors.New("the object changed while it was read")
)

// credentialsHint says where a scheme's credentials come from.
func credentialsHint(scheme string) string {
	switch scheme {
	case "s3":
		return "credentials come from the AWS chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, or the role of the pod (IRSA) or instance"
	case "gs":
		return "credentials come from Google's application default credentials: GOOGLE_APPLICATION_CREDENTIALS, gcloud auth application-default login, or the workload identity of the pod or VM"
	case "azblob":
		return "credentials come from AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING, or Azure's default chain (AZURE_CLIENT_ID…, workload identity, managed identity)"
	}
	return ""
}

// listHint is the command that shows what a URL holds.
func listHint(l Location) string {
	switch l.Scheme {
	case "s3":
		return "aws s3 ls " + l.Object(l.Key)
	case "gs":
		return "gcloud storage ls " + l.Object(l.Key)
	case "azblob":
		return "az storage blob list --container-name " + l.Bucket + " --prefix '" + l.Key + "'"
	}
	return ""
}

// fail makes err, from an operation on l, an *Error that says what went
// wrong in words and how to go on, and that holds none of l's secrets.
// listing says that the operation listed the bucket, where NotFound can
// only mean that there is no bucket.
func (l Location) fail(err error, listing bool) error {
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	code := gcerrors.Code(err)
	switch httpStatus(err) {
	case http.StatusForbidden, http.StatusUnauthorized:
		// GCS says "denied (or it may not exist)" and gocloud's drivers
		// differ on which they call it; the status is plainer.
		code = gcerrors.PermissionDenied
	}
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case code == gcerrors.NotFound && listing:
		return &Error{URL: l.String(), Err: ErrNoBucket,
			hint: fmt.Sprintf("check the bucket's name (%q) and, for s3://, its region (?region=…)", l.Bucket)}
	case code == gcerrors.NotFound:
		return &Error{URL: l.String(), Err: fmt.Errorf("no such object: %w", fs.ErrNotExist), hint: "see what is there with: " + listHint(l)}
	case code == gcerrors.PermissionDenied:
		return &Error{URL: l.String(), Err: fmt.Errorf("%w: the store refused the credentials rtseg found", ErrDenied),
			hint: "grant them read access (listing and getting objects) or write access for outputs; " + credentialsHint(l.Scheme)}
	case strings.Contains(err.Error(), "query parameter"):
		return &Error{URL: l.String(), Err: errors.New(l.scrub(shortError(err))),
			hint: "the query parameters are gocloud.dev's for " + l.Scheme + "://, listed at https://gocloud.dev/howto/blob/"}
	case looksLikeNoCredentials(err):
		return &Error{URL: l.String(), Err: errors.New("no credentials found"), hint: credentialsHint(l.Scheme)}
	}
	return &Error{URL: l.String(), Err: errors.New(l.scrub(shortError(err))), hint: "check the URL's endpoint and the network; " + credentialsHint(l.Scheme)}
}

// httpStatus is the HTTP status of a store's error response, or 0.
func httpStatus(err error) int {
	var ge *googleapi.Error
	var ae *azcore.ResponseError
	var se interface{ HTTPStatusCode() int }
	switch {
	case errors.As(err, &ge):
		return ge.Code
	case errors.As(err, &ae):
		return ae.StatusCode
	case errors.As(err, &se):
		return se.HTTPStatusCode()
	}
	return 0
}

// looksLikeNoCredentials tells the drivers' words for credentials that
// could not be found.
func looksLikeNoCredentials(err error) bool {
	s := strings.ToLower(err.Error())
	for _, w := range []string{"failed to retrieve credentials", "no valid providers", "could not find default credentials",
		"defaultazurecredential", "no credential", "missing credentials"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// shortError is a driver's error in one line, without gocloud's frames:
// gocloud puts the cause on its last line.
func shortError(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
		s = strings.TrimPrefix(s, "- ")
	}
	if i := strings.Index(s, "): "); strings.HasPrefix(s, "blob (") && i > 0 {
		s = s[i+3:]
	}
	// The opener's "open bucket URL: " names the URL the error does.
	if rest, ok := strings.CutPrefix(s, "open bucket "); ok {
		if i := strings.Index(rest, ": "); i >= 0 {
			s = rest[i+2:]
		}
	}
	return s
}

// scrub removes l's secret query values from s.
func (l Location) scrub(s string) string {
	for _, v := range l.secrets() {
		s = strings.ReplaceAll(s, v, "REDACTED")
	}
	return s
}

// transient reports whether a failed request is worth trying again: a
// connection lost or reset, a server error, throttling, a time-out.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrChanged) {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if s := httpStatus(err); s >= 400 && s < 500 && s != http.StatusTooManyRequests && s != http.StatusRequestTimeout {
		return false
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound, gcerrors.PermissionDenied, gcerrors.InvalidArgument, gcerrors.FailedPrecondition,
		gcerrors.Unimplemented, gcerrors.AlreadyExists, gcerrors.Canceled:
		return false
	}
	return !looksLikeNoCredentials(err)
}
