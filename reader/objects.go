package reader

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/rtseg/rtseg/objstore"
)

// objectInputs lists the objects an INPUT URL names, as expandInputs does
// for local paths: a prefix is a folder walked as walkDir walks one (at
// any depth, skipping "_" and "." names, with Hive partitions), an object
// is a file, and a pattern in the last segment matches the objects (and
// prefixes) beside it. Files are named by their URLs without the query.
func objectInputs(in string, so objstore.Options) ([]inputFile, error) {
	fsys, p, err := objstore.Open(context.Background(), in, so)
	if err != nil {
		return nil, err
	}
	shown := objstore.Redact(in)
	var found []inputFile
	add := func(p string) error {
		info, err := fsys.Stat(p)
		if err != nil {
			return objectError(fsys, p, err)
		}
		if !info.IsDir() {
			found = append(found, inputFile{name: fsys.URL(p), fsys: fsys, path: p, parts: partitionsIn(path.Dir(p))})
			return nil
		}
		files, err := walkDir(fsys, p, p)
		if err != nil {
			return objectError(fsys, p, err)
		}
		if len(files) == 0 {
			return fmt.Errorf("%s: %w", fsys.URL(p)+"/", ErrNoDataFiles)
		}
		for _, f := range files {
			f.name = fsys.URL(f.path)
			found = append(found, f)
		}
		return nil
	}
	if strings.ContainsAny(path.Base(p), "*?[") {
		matches, err := fs.Glob(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", shown, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%s: no object matches this pattern", shown)
		}
		for _, m := range matches {
			if err := add(m); err != nil {
				return nil, err
			}
		}
		return found, nil
	}
	if err := add(p); err != nil {
		return nil, err
	}
	return found, nil
}

// objectError names the object a walk failed on: a store's error names
// it already.
func objectError(fsys *objstore.FS, p string, err error) error {
	var se *objstore.Error
	if errors.As(err, &se) {
		return se
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path != "" {
		return fmt.Errorf("%s: %w", fsys.URL(pe.Path), pe.Err)
	}
	return fmt.Errorf("%s: %w", fsys.URL(p), err)
}

// Object describes an input that is an object in a store, for resuming
// and syncing: ok is false for a local file or standard input. An object
// described is then read as it is now, or not at all
// (objstore.ErrChanged).
func (r *Reader) Object(i int) (o objstore.Object, ok bool, err error) {
	in := r.files[i]
	fsys, isObject := in.fsys.(*objstore.FS)
	if !isObject {
		return objstore.Object{}, false, nil
	}
	o, err = fsys.Fingerprint(in.path)
	return o, true, err
}
