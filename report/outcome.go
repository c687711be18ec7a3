package report

// Outcome is what became of one row.
type Outcome int

const (
	Accepted   Outcome = iota // the service took the row
	Invalid                   // the row broke a rule and was not sent
	Superseded                // a later row for the same user and segment replaced it
	Warned                    // the service answered with a warning for it
	Failed                    // it could not be delivered
	Skipped                   // an earlier run delivered it already
	Valid                     // rtseg validate: it would be sent
	Unchanged                 // rtseg sync: the service holds it as delivered; not sent
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"accepted", "invalid", "superseded", "warned", "failed", "skipped", "valid", "unchanged"}

// String gives the outcome's name as the report writes it.
func (o Outcome) String() string {
	if o < 0 || o >= numOutcomes {
		return "unknown"
	}
	return outcomeNames[o]
}

// rejected reports whether the outcome counts against --max-rejected.
func (o Outcome) rejected() bool { return o == Invalid || o == Warned || o == Failed }
