package objstore

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Schemes are the URL schemes of the stores supported, as gocloud names
// them.
var Schemes = []string{"s3", "gs", "azblob"}

// schemeRE is what a URL's scheme looks like: at least two letters, so
// that a Windows path (C:\x) is never taken for one.
var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]+)://`)

// IsURL reports whether s is meant as an object-store URL (scheme://…),
// supported or not: Parse says which.
func IsURL(s string) bool { return schemeRE.MatchString(s) }

// Location is a parsed object-store URL.
type Location struct {
	Scheme string
	Bucket string
	// Key is the object's key or the prefix, without a leading slash; a
	// prefix may end in "/".
	Key   string
	query url.Values
}

// Parse parses an object-store URL: scheme://bucket/key?query.
func Parse(s string) (Location, error) {
	m := schemeRE.FindStringSubmatch(s)
	if m == nil {
		return Location{}, fmt.Errorf("%s: not a URL", Redact(s))
	}
	scheme := strings.ToLower(m[1])
	if !supported(scheme) {
		return Location{}, &Error{URL: Redact(s), Err: fmt.Errorf("unsupported scheme %q: rtseg reads and writes %s", scheme, schemeList()),
			hint: "use s3:// for Amazon S3 and S3-compatible stores (MinIO, R2, …), gs:// for Google Cloud Storage, azblob:// for Azure Blob Storage"}
	}
	u, err := url.Parse(s)
	if err != nil {
		return Location{}, fmt.Errorf("%s: not a valid URL", Redact(s))
	}
	if u.User != nil {
		return Location{}, &Error{URL: Redact(s), Err: errors.New("a URL cannot carry credentials"),
			hint: credentialsHint(scheme)}
	}
	if u.Host == "" {
		return Location{}, &Error{URL: Redact(s), Err: errors.New("no bucket named"), hint: fmt.Sprintf("write %s://BUCKET/PREFIX/", scheme)}
	}
	return Location{Scheme: scheme, Bucket: u.Host, Key: strings.TrimPrefix(u.Path, "/"), query: u.Query()}, nil
}

func supported(scheme string) bool {
	for _, s := range Schemes {
		if s == scheme {
			return true
		}
	}
	return false
}

func schemeList() string {
	var b strings.Builder
	for i, s := range Schemes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s + "://")
	}
	return b.String()
}

// bucketURL is the URL gocloud opens the bucket with: the bucket and the
// query, without the key.
func (l Location) bucketURL() string {
	u := url.URL{Scheme: l.Scheme, Host: l.Bucket, RawQuery: l.query.Encode()}
	return u.String()
}

// String is the URL as messages show it, with secret query values
// redacted.
func (l Location) String() string {
	u := url.URL{Scheme: l.Scheme, Host: l.Bucket, Path: "/" + l.Key, RawQuery: redactQuery(l.query).Encode()}
	if l.Key == "" {
		u.Path = "/"
	}
	return u.String()
}

// Object is the URL of the key below the bucket, without the query: how
// reports name an object.
func (l Location) Object(key string) string {
	return l.Scheme + "://" + l.Bucket + "/" + key
}

// secretParam tells the query parameters whose values are not to be shown:
// a SAS token's signature, a key, a password, anything called a secret or
// a token.
var secretParam = regexp.MustCompile(`(?i)(sig|signature|secret|token|password|passwd|pwd|key|credential|auth|sas)`)

func redactQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, vs := range q {
		for _, v := range vs {
			if secretParam.MatchString(k) {
				v = "REDACTED"
			}
			out.Add(k, v)
		}
	}
	return out
}

// Redact returns a URL, or a string that looks like one, fit to show: the
// values of query parameters that may hold secrets, and any user
// information, replaced by REDACTED.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		// Unparseable: keep only what comes before the query.
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			return s[:i] + "?REDACTED"
		}
		return s
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" {
		u.RawQuery = redactQuery(u.Query()).Encode()
	}
	return u.String()
}

// secrets are the values of l's query that Redact hides, longest first,
// for scrubbing them from a driver's error text.
func (l Location) secrets() []string {
	var out []string
	for k, vs := range l.query {
		if !secretParam.MatchString(k) {
			continue
		}
		for _, v := range vs {
			if len(v) >= 4 {
				out = append(out, v, url.QueryEscape(v))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
