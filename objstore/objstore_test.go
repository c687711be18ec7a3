package objstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rtseg/rtseg/objstore/objstoretest"
)

// stores starts each fake store in turn and runs f against it, with the
// client's environment set. Azurite runs where it is installed; CI
// installs it, and fails this test without it.
func stores(t *testing.T, f func(t *testing.T, s objstoretest.Store)) {
	run := func(name string, start func() (objstoretest.Store, error)) {
		t.Run(name, func(t *testing.T) {
			s, err := start()
			if errors.Is(err, objstoretest.ErrNoAzurite) && os.Getenv("CI") == "" {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			for k, v := range s.Env() {
				t.Setenv(k, v)
			}
			f(t, s)
		})
	}
	run("s3", func() (objstoretest.Store, error) { return objstoretest.NewS3(), nil })
	run("gcs", func() (objstoretest.Store, error) { return objstoretest.NewGCS() })
	run("azure", func() (objstoretest.Store, error) { return objstoretest.NewAzure() })
}

func put(t *testing.T, s objstoretest.Store, bucket string, objects map[string]string) {
	t.Helper()
	if err := s.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	for k, v := range objects {
		if err := s.Put(bucket, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
}

// fast retries, for tests.
var fast = Options{Backoff: time.Millisecond}

// openObject opens the object at url as a file, closed (with its bucket)
// when the test ends.
func openObject(t *testing.T, url string, opts Options) fs.File {
	t.Helper()
	fsys, p, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	f, err := fsys.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestPrefixIsAFolder(t *testing.T) {
	stores(t, func(t *testing.T, s objstoretest.Store) {
		put(t, s, "exports", map[string]string{
			"day/_SUCCESS":                       "",
			"day/part-0.csv":                     "user_id,segment_id\n1,2\n",
			"day/domain=idfa/part-1.csv":         "user_id,segment_id\n3,4\n",
			"day/domain=idfa/part-2.csv":         "user_id,segment_id\n5,6\n",
			"day/marker/":                        "",
			"other/x.csv":                        "no",
			"day-after/not-under-the-prefix.csv": "no",
		})
		fsys, p, err := Open(context.Background(), s.URL("exports", "day/"), fast)
		if err != nil {
			t.Fatal(err)
		}
		defer fsys.Close()
		if p != "day" {
			t.Errorf("path = %q, want day", p)
		}
		var walked []string
		err = fs.WalkDir(fsys, p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				walked = append(walked, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"day/_SUCCESS", "day/domain=idfa/part-1.csv", "day/domain=idfa/part-2.csv", "day/part-0.csv"}
		if strings.Join(walked, "\n") != strings.Join(want, "\n") {
			t.Errorf("walked:\n%s\nwant:\n%s", strings.Join(walked, "\n"), strings.Join(want, "\n"))
		}
		matches, err := fs.Glob(fsys, "day/domain=idfa/part-*.csv")
		if err != nil || len(matches) != 2 {
			t.Errorf("glob: %v %v, want the two parts", matches, err)
		}
		b, err := fs.ReadFile(fsys, "day/domain=idfa/part-2.csv")
		if err != nil || string(b) != "user_id,segment_id\n5,6\n" {
			t.Errorf("read %q %v", b, err)
		}
		info, err := fs.Stat(fsys, "day/part-0.csv")
		if err != nil || info.IsDir() || info.Size() != int64(len("user_id,segment_id\n1,2\n")) {
			t.Errorf("stat: %v %v", info, err)
		}
		if got := fsys.URL("day/part-0.csv"); !strings.HasSuffix(got, "://exports/day/part-0.csv") || strings.Contains(got, "?") {
			t.Errorf("URL = %q", got)
		}
	})
}

func TestSingleObjectAndPattern(t *testing.T) {
	stores(t, func(t *testing.T, s objstoretest.Store) {
		put(t, s, "bkt", map[string]string{"x/part-1.parquet": "1", "x/part-2.parquet": "2", "x/y.csv": "y"})
		fsys, p, err := Open(context.Background(), s.URL("bkt", "x/y.csv"), fast)
		if err != nil {
			t.Fatal(err)
		}
		if info, err := fsys.Stat(p); err != nil || info.IsDir() || p != "x/y.csv" {
			t.Errorf("single object: %q %v %v", p, info, err)
		}
		fsys.Close()
		fsys, p, err = Open(context.Background(), s.URL("bkt", "x/part-*.parquet"), fast)
		if err != nil {
			t.Fatal(err)
		}
		defer fsys.Close()
		m, err := fs.Glob(fsys, p)
		if err != nil || strings.Join(m, " ") != "x/part-1.parquet x/part-2.parquet" {
			t.Errorf("glob %q: %v %v", p, m, err)
		}
	})
}

// content is n bytes that differ from place to place, so that a read
// resumed at the wrong offset shows.
func content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + (i*7+i/251)%26)
	}
	return b
}

func TestStreamSurvivesAResetMidObject(t *testing.T) {
	stores(t, func(t *testing.T, s objstoretest.Store) {
		data := content(3 << 20)
		put(t, s, "bkt", nil)
		if err := s.Put("bkt", "big.csv", data); err != nil {
			t.Fatal(err)
		}
		s.ResetAt("bkt", "big.csv", 1<<20+123)
		var resumed []int64
		opts := fast
		opts.OnRetry = func(object string, off int64, err error) { resumed = append(resumed, off) }
		f := openObject(t, s.URL("bkt", "big.csv"), opts)
		got, err := io.ReadAll(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes, not the object's %d as they are", len(got), len(data))
		}
		// The GCS client resumes a read by itself; the others leave it
		// to the File.
		if s.Resets() != 1 || len(resumed) > 1 || (len(resumed) == 1 && (resumed[0] <= 0 || resumed[0] > 1<<20+123)) {
			t.Errorf("resets %d, resumed at %v: want one reset, resumed at most at its offset", s.Resets(), resumed)
		}
	})
}

func TestRangedReadsFetchOnlyTheRanges(t *testing.T) {
	stores(t, func(t *testing.T, s objstoretest.Store) {
		data := content(1 << 20)
		put(t, s, "bkt", nil)
		if err := s.Put("bkt", "t.parquet", data); err != nil {
			t.Fatal(err)
		}
		s.ResetAt("bkt", "t.parquet", 500_100)
		f := openObject(t, s.URL("bkt", "t.parquet"), fast)
		ra := f.(io.ReaderAt)
		buf := make([]byte, 1000)
		for _, off := range []int64{0, 500_000, int64(len(data)) - 1000} {
			if n, err := ra.ReadAt(buf, off); n != 1000 || err != nil || !bytes.Equal(buf, data[off:off+1000]) {
				t.Errorf("ReadAt(%d): %d %v, or other bytes", off, n, err)
			}
		}
		if n, err := ra.ReadAt(buf, int64(len(data))-10); n != 10 || err != io.EOF {
			t.Errorf("ReadAt past the end: %d %v, want 10 io.EOF", n, err)
		}
		if got := s.Served("bkt", "t.parquet"); got < 3010 || got > 2*3010 {
			t.Errorf("the store served %d bytes for ranges of 3010 (one cut short), want about that", got)
		}
	})
}

func TestAnObjectReplacedWhileReadIsRefused(t *testing.T) {
	stores(t, func(t *testing.T, s objstoretest.Store) {
		data := content(2 << 20)
		put(t, s, "bkt", nil)
		if err := s.Put("bkt", "x.csv", data); err != nil {
			t.Fatal(err)
		}
		// The read is cut after the object is replaced, so that it must
		// reopen it.
		s.ResetAt("bkt", "x.csv", 1<<20)
		f := openObject(t, s.URL("bkt", "x.csv"), fast)
		if _, err := io.ReadFull(f, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		// The same size, other bytes: only the version tells.
		other := bytes.ToUpper(data)
		if err := s.Put("bkt", "x.csv", other); err != nil {
			t.Fatal(err)
		}
		_, err := io.ReadAll(f)
		if !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), "x.csv") {
			t.Fatalf("err = %v, want the object named as changed", err)
		}
	})
}

func TestUploadAndReadBack(t *testing.T) {
	stores(t, func(t *testing.T, s objstoretest.Store) {
		put(t, s, "out", nil)
		u := s.URL("out", "runs/2026-12-01/summary.json")
		if err := CheckOutput(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		body := strings.Repeat(`{"rows_read": 1}`, 100_000)
		if err := Upload(context.Background(), u, strings.NewReader(body), "application/json"); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get("out", "runs/2026-12-01/summary.json")
		if err != nil || string(got) != body {
			t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(body))
		}
		// A failing source leaves nothing behind.
		failing := io.MultiReader(strings.NewReader("half"), iotest{})
		err = Upload(context.Background(), s.URL("out", "half.json"), failing, "")
		if err == nil || !strings.Contains(err.Error(), "not written") {
			t.Errorf("err = %v, want not written", err)
		}
		if _, err := s.Get("out", "half.json"); err == nil {
			t.Errorf("half an output was committed")
		}
	})
}

type iotest struct{}

func (iotest) Read([]byte) (int, error) { return 0, errors.New("disk failed") }

func TestErrorsNameTheURLAndHelp(t *testing.T) {
	stores(t, func(t *testing.T, s objstoretest.Store) {
		put(t, s, "there", map[string]string{"a/b.csv": "x"})
		ctx := context.Background()
		for _, c := range []struct {
			url  string
			want error
			msg  string
		}{
			{s.URL("nosuchbucket", "a/"), ErrNoBucket, "nosuchbucket"},
			{s.URL("there", "nothing/"), ErrEmpty, "there/nothing"},
		} {
			_, _, err := Open(ctx, c.url, fast)
			var se *Error
			if !errors.Is(err, c.want) || !errors.As(err, &se) || se.Hint() == "" || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("Open(%s) = %v, want %v naming %s, with a hint", c.url, err, c.want, c.msg)
			}
		}
		s.Deny("there")
		_, _, err := Open(ctx, s.URL("there", "a/"), fast)
		if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "there/a") {
			t.Errorf("denied: %v", err)
		}
		if err := Upload(ctx, s.URL("there", "r.csv"), strings.NewReader("x"), ""); !errors.Is(err, ErrDenied) {
			t.Errorf("denied write: %v", err)
		}
		if err := CheckOutput(ctx, s.URL("nosuchbucket", "r.csv")); !errors.Is(err, ErrNoBucket) {
			t.Errorf("output to a missing bucket: %v", err)
		}
	})
}

func TestUnknownSchemeListsTheSupportedOnes(t *testing.T) {
	_, _, err := Open(context.Background(), "ftp://host/x.csv", Options{})
	if err == nil || !strings.Contains(err.Error(), "s3://, gs://, azblob://") {
		t.Errorf("err = %v", err)
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	for in, want := range map[string]string{
		"azblob://c/k?sig=abcdef&sv=2020": "azblob://c/k?sig=REDACTED&sv=2020",
		"s3://b/k?endpoint=http://x:9000": "s3://b/k?endpoint=http%3A%2F%2Fx%3A9000",
		"s3://user:pass@b/k":              "s3://REDACTED@b/k",
		"gs://b/k?private_key_path=/k":    "gs://b/k?private_key_path=REDACTED",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%s) = %s, want %s", in, got, want)
		}
	}
	l, err := Parse("azblob://c/k?sig=supersecret")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.fail(errors.New("GET https://x/c/k?sig=supersecret: 500"), false).Error(); strings.Contains(got, "supersecret") {
		t.Errorf("error shows the secret: %s", got)
	}
}
