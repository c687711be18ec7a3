// Package report accounts for every row, the last stage of rtseg.
//
// It owns the outcomes, the Recorder that counts each one as it happens, the
// per-row report (CSV or JSONL), the failed-rows file that rtseg upload takes
// back unchanged, the summary (JSON and a few lines for people), and the run
// page (--html: one self-contained HTML file drawn from the summary, with the
// service's side when rtseg reconcile writes it). Counts
// are kept independently so that rows_read = accepted + invalid + superseded +
// warned + failed + skipped is a check, not a definition.
package report
