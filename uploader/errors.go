package uploader

// SettingError is a setting out of its range, named by the command-line flag
// that sets it, so that the person running rtseg knows what to change.
type SettingError struct {
	Flag    string // as typed: "--workers"
	Problem string // what is wrong with the value, and what it must be
}

func (e *SettingError) Error() string { return e.Flag + " " + e.Problem }
