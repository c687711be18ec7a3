// Package reader turns input files into rows, the first stage of rtseg.
//
// It owns finding the files an INPUT names (file, directory read at any
// depth, glob or "-"), with the Hive partitions (key=value folders) that
// give columns to the rows below them, decoding CSV, TSV and Parquet, and validating each record against the rules of
// the Instant Audience Service (SPEC §3), among them that a user ID has the
// shape of its domain's IDs (CheckUserID; Defaults.LenientIDs lifts it).
// Reading is pull-based, like encoding/csv: Next returns one Row at a time
// and io.EOF at the end, and Close stops any goroutine the reader started.
// A record that breaks a rule is not an error: it comes back as a Row whose
// Err says why, with its position and its fields as read, so the run goes
// on and the report can name it. Errors end the run: an input that cannot
// be opened or decoded, a header without the columns every row needs. Each
// is an *InputError, which names the file and says how far the rows already
// delivered can be trusted (TrustedUpTo).
//
// Columns are matched by name, ignoring case and surrounding space, in any
// order; --columns (Options.Columns) maps a field to another column name, for
// CSV and Parquet alike. Other columns are ignored.
//
// CSV goes through gocarina/gocsv on the reader's own encoding/csv Readers
// (RFC 4180 quoting, any single-rune delimiter), after a UTF-8 byte order
// mark is dropped and gzip, zstd or bzip2 is decompressed (recognised by
// its magic bytes); *.tsv files are tab-separated unless --delimiter says
// otherwise.
// gocsv's pull API reads the header. The records after it are cut into
// chunks of whole records, by the same quoting rules encoding/csv follows,
// and decoded on several goroutines, since decoding costs several times what
// cutting does: each chunk's records are read by an encoding/csv Reader and
// handed, behind the mapped header, to gocsv's Decoder API, whose
// TypeUnmarshalCSVWithFields hook takes each field without reflection. Rows
// come out in input order. Every field is read as text and every number
// parsed here, in base 10, range-checked. A row's position is the line its
// record starts on, the header being line 1. A malformed record (a stray
// quote, a quote left open, the wrong number of fields) is an invalid row; a
// record longer than MaxRecordBytes ends the run, since only a quote left
// open makes one.
//
// Parquet goes through apache/arrow/go/v15, record batch by record batch,
// reading only the columns that give fields, with buffered column streams so
// that memory follows the page size rather than the row group size. Each
// row group must give the number of rows its metadata says: arrow reports
// a page it cannot read as the end of the data, so a shortfall is an error
// naming the row group, as is every decoding error. Text
// columns may be string, large_string, binary or dictionary-encoded;
// numbers any signed or unsigned integer type, DECIMAL (read as stored, in
// integers or bytes, and made an integer here: numbers.go) or floating
// point, a value that is not whole or does not fit being an invalid row; a
// null is an absent field. A
// row's position is its 1-based row number in the file. One goroutine reads
// and validates the rows ahead of Next, as the CSV decoders do, so the
// reader is the one place that reads ahead: a caller takes rows, one at a
// time or by the thousand with NextBatch, and its own work on them overlaps
// decoding. Parquet needs random access, so it cannot come from standard
// input.
//
// Files are found and opened through io/fs (see inputFile): os.DirFS for
// local folders, and any fs.FS whose files are io.ReaderAt for another
// store.
//
// Rows keep no reference to a reader's buffers: the strings a valid row
// holds are copied, and consecutive rows of one user share one copy of its
// ID, which keeps rows small while later stages group them.
package reader
