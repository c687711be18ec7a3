package reader

import (
	"errors"
	"strings"
	"testing"
	"unsafe"
)

// Device IDs of each shape.
const (
	idfa = "1BA98A6C-D1A5-49EF-AD1C-2D9230EBCD13"
	aaid = "6d92078a-8246-4ba4-ae5b-76104861e7dc"
	md5  = "0cc175b9c0f1b6a831c399e269772661"
	sha1 = "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"
)

func TestValidate(t *testing.T) {
	pos := Position{File: "in.csv", Line: 7}
	base := Fields{UserID: "12345678900987654321", SegID: "10001"}
	with := func(change func(*Fields)) Fields {
		f := base
		change(&f)
		return f
	}
	tests := []struct {
		name     string
		raw      Fields
		defaults Defaults
		want     Row    // compared when rule is nil
		field    string // the field an invalid row names
		rule     error  // the rule it breaks
		reason   string // the whole reason the report shows
	}{
		{name: "minimal", raw: base,
			want: Row{UserID: "12345678900987654321", SegID: 10001}},
		{name: "all fields", raw: Fields{UserID: " " + aaid + " ", Domain: "AAID", SegID: "12", MemberID: "1234", Value: "-5", Expiration: "259200"},
			want: Row{UserID: aaid, Domain: "aaid", SegID: 12, MemberID: 1234, Value: -5, HasValue: true, Expiration: 259200, HasExpiration: true}},
		{name: "seg_code with member_id", raw: Fields{UserID: "42", SegCode: "loyal-customers", MemberID: "1234"},
			want: Row{UserID: "42", SegCode: "loyal-customers", MemberID: 1234}},
		{name: "expiration 0 never expires", raw: with(func(f *Fields) { f.Expiration = "0" }),
			want: Row{UserID: base.UserID, SegID: 10001, Expiration: 0, HasExpiration: true}},
		{name: "absent expiration stays absent", raw: with(func(f *Fields) { f.Expiration = "  " }),
			want: Row{UserID: base.UserID, SegID: 10001}},
		{name: "value 0 is a value", raw: with(func(f *Fields) { f.Value = "0" }),
			want: Row{UserID: base.UserID, SegID: 10001, HasValue: true}},
		{name: "expiration -1 removes", raw: with(func(f *Fields) { f.Expiration = "-1" }),
			want: Row{UserID: base.UserID, SegID: 10001, Expiration: -1, HasExpiration: true}},
		{name: "leading zeros are decimal", raw: with(func(f *Fields) { f.SegID = "0100" }),
			want: Row{UserID: base.UserID, SegID: 100}},
		{name: "a zero fraction is whole, as pandas writes it", raw: with(func(f *Fields) { f.SegID = "12.00"; f.Expiration = "1440.0"; f.Value = "-3.0" }),
			want: Row{UserID: base.UserID, SegID: 12, Value: -3, HasValue: true, Expiration: 1440, HasExpiration: true}},
		{name: "-1.0 removes", raw: with(func(f *Fields) { f.Expiration = "-1.0" }),
			want: Row{UserID: base.UserID, SegID: 10001, Expiration: -1, HasExpiration: true}},
		{name: "a fraction is not whole", raw: with(func(f *Fields) { f.SegID = "12.5" }),
			field: "seg_id", rule: ErrNotWhole, reason: `seg_id "12.5" is not a whole number`},
		{name: "an exponent is not whole", raw: with(func(f *Fields) { f.Expiration = "1e3" }),
			field: "expiration", rule: ErrNotWhole, reason: `expiration "1e3" is not a whole number`},
		{name: "a point without digits after it", raw: with(func(f *Fields) { f.Value = "12." }),
			field: "value", rule: ErrNotWhole, reason: `value "12." is not a whole number`},
		{name: "a point without digits before it", raw: with(func(f *Fields) { f.Value = ".0" }),
			field: "value", rule: ErrNotWhole, reason: `value ".0" is not a whole number`},
		{name: "a zero fraction past int64", raw: with(func(f *Fields) { f.SegID = "99999999999999999999.0" }),
			field: "seg_id", rule: ErrOutOfRange, reason: `seg_id 99999999999999999999.0 is out of range (it must be 1 to 9223372036854775807)`},
		{name: "a zero fraction out of its field's range", raw: with(func(f *Fields) { f.Value = "2147483648.0" }),
			field: "value", rule: ErrOutOfRange, reason: `value 2147483648.0 is out of range (it must fit in 32 bits: -2147483648 to 2147483647)`},
		{name: "sh1udid is sha1udid", raw: with(func(f *Fields) { f.Domain = "sh1udid"; f.UserID = sha1 }),
			want: Row{UserID: sha1, Domain: "sha1udid", SegID: 10001}},
		{name: "defaults fill absent fields", raw: Fields{UserID: idfa, SegCode: "c"},
			defaults: Defaults{Domain: "idfa", MemberID: "99", Value: "3", Expiration: "1440"},
			want:     Row{UserID: idfa, Domain: "idfa", SegCode: "c", MemberID: 99, Value: 3, HasValue: true, Expiration: 1440, HasExpiration: true}},
		{name: "a field beats its default", raw: with(func(f *Fields) { f.Expiration = "0"; f.Domain = "aaid"; f.UserID = aaid }),
			defaults: Defaults{Domain: "idfa", Expiration: "1440"},
			want:     Row{UserID: aaid, Domain: "aaid", SegID: 10001, HasExpiration: true}},
		{name: "remove overrides expiration", raw: with(func(f *Fields) { f.Expiration = "1440" }),
			defaults: Defaults{Remove: true},
			want:     Row{UserID: base.UserID, SegID: 10001, Expiration: -1, HasExpiration: true}},

		{name: "empty user_id", raw: with(func(f *Fields) { f.UserID = " " }), field: "user_id", rule: ErrMissing,
			reason: "user_id is empty"},
		{name: "long user_id", raw: with(func(f *Fields) { f.UserID = strings.Repeat("x", 257) }),
			field: "user_id", rule: ErrTooLong,
			reason: "user_id is 257 bytes long, more than the 256 allowed"},
		{name: "user_id of 256 bytes", raw: with(func(f *Fields) { f.UserID = strings.Repeat("x", 256) }),
			defaults: Defaults{LenientIDs: true},
			want:     Row{UserID: strings.Repeat("x", 256), SegID: 10001}},
		{name: "control character", raw: with(func(f *Fields) { f.UserID = "a\nb" }), field: "user_id", rule: ErrControl,
			reason: "user_id contains a control character"},
		{name: "DEL", raw: with(func(f *Fields) { f.UserID = "ab\x7f" }), field: "user_id", rule: ErrControl,
			reason: "user_id contains a control character"},
		{name: "C1 control after non-ASCII", raw: with(func(f *Fields) { f.UserID = "é\u0090x" }), field: "user_id", rule: ErrControl,
			reason: "user_id contains a control character"},
		{name: "non-ASCII letters", raw: with(func(f *Fields) { f.UserID = "ünïcødé" }), defaults: Defaults{LenientIDs: true},
			want: Row{UserID: "ünïcødé", SegID: 10001}},
		{name: "invalid UTF-8", raw: with(func(f *Fields) { f.UserID = "a\xffb" }), field: "user_id", rule: ErrNotUTF8,
			reason: "user_id is not valid UTF-8"},
		{name: "sha1mac", raw: with(func(f *Fields) { f.Domain = "SHA1MAC" }),
			field: "domain", rule: ErrDeprecatedDomain,
			reason: `domain "sha1mac" is deprecated (since 2019) and no longer accepted`},
		{name: "unknown domain", raw: with(func(f *Fields) { f.Domain = "email" }),
			field: "domain", rule: ErrUnknownDomain,
			reason: `domain "email" is not one of idfa, sha1udid, md5udid, openudid, aaid (or empty for a Xandr user ID)`},
		{name: "no segment", raw: Fields{UserID: "u"}, field: "seg_id", rule: ErrMissing,
			reason: "no segment: give seg_id, or seg_code with member_id"},
		{name: "both seg_id and seg_code", raw: with(func(f *Fields) { f.SegCode = "c"; f.MemberID = "1" }),
			field: "seg_id", rule: ErrBothSegIDAndCode,
			reason: "seg_id and seg_code are both given; give one of them"},
		{name: "seg_id zero", raw: with(func(f *Fields) { f.SegID = "0" }), field: "seg_id", rule: ErrOutOfRange,
			reason: "seg_id 0 is out of range (it must be 1 to 9223372036854775807)"},
		{name: "seg_id negative", raw: with(func(f *Fields) { f.SegID = "-3" }), field: "seg_id", rule: ErrOutOfRange,
			reason: "seg_id -3 is out of range (it must be 1 to 9223372036854775807)"},
		{name: "seg_id hex", raw: with(func(f *Fields) { f.SegID = "0x1F" }), field: "seg_id", rule: ErrNotWhole,
			reason: `seg_id "0x1F" is not a whole number`},
		{name: "seg_id fraction", raw: with(func(f *Fields) { f.SegID = "1.9" }), field: "seg_id", rule: ErrNotWhole,
			reason: `seg_id "1.9" is not a whole number`},
		{name: "seg_id underscore", raw: with(func(f *Fields) { f.SegID = "1_000" }), field: "seg_id", rule: ErrNotWhole,
			reason: `seg_id "1_000" is not a whole number`},
		{name: "seg_id past int64", raw: with(func(f *Fields) { f.SegID = "99999999999999999999" }),
			field: "seg_id", rule: ErrOutOfRange,
			reason: "seg_id 99999999999999999999 is out of range (it must be 1 to 9223372036854775807)"},
		{name: "seg_id shown as the number read", raw: with(func(f *Fields) { f.SegID = "-0003" }), field: "seg_id", rule: ErrOutOfRange,
			reason: "seg_id -3 is out of range (it must be 1 to 9223372036854775807)"},
		{name: "expiration past int64", raw: with(func(f *Fields) { f.Expiration = "+99999999999999999999" }), field: "expiration", rule: ErrOutOfRange,
			reason: `expiration "+99999999999999999999" is not -1 (remove), 0 (never expires) or 1 to 259200 minutes (180 days)`},
		{name: "seg_code invalid UTF-8", raw: Fields{UserID: "u", SegCode: "a\xffb", MemberID: "1"}, field: "seg_code", rule: ErrNotUTF8,
			reason: "seg_code is not valid UTF-8"},
		{name: "seg_code too long", raw: Fields{UserID: "u", SegCode: strings.Repeat("é", 51), MemberID: "1"},
			field: "seg_code", rule: ErrTooLong,
			reason: "seg_code is 51 characters long, more than the 50 allowed"},
		{name: "seg_code of 50 characters", raw: Fields{UserID: "42", SegCode: strings.Repeat("é", 50), MemberID: "1"},
			want: Row{UserID: "42", SegCode: strings.Repeat("é", 50), MemberID: 1}},
		{name: "seg_code control character", raw: Fields{UserID: "u", SegCode: "a\tb", MemberID: "1"},
			field: "seg_code", rule: ErrControl,
			reason: "seg_code contains a control character"},
		{name: "seg_code without member_id", raw: Fields{UserID: "u", SegCode: "c"},
			field: "member_id", rule: ErrMissing,
			reason: "seg_code needs a member_id (a column or --member-id)"},
		{name: "member_id zero", raw: Fields{UserID: "u", SegCode: "c", MemberID: "0"},
			field: "member_id", rule: ErrOutOfRange,
			reason: "member_id 0 is out of range (it must be 1 to 9223372036854775807)"},
		{name: "member_id text", raw: Fields{UserID: "u", SegCode: "c", MemberID: "acme"},
			field: "member_id", rule: ErrNotWhole,
			reason: `member_id "acme" is not a whole number`},
		{name: "value past 32 bits", raw: with(func(f *Fields) { f.Value = "2147483648" }),
			field: "value", rule: ErrOutOfRange,
			reason: "value 2147483648 is out of range (it must fit in 32 bits: -2147483648 to 2147483647)"},
		{name: "value not a number", raw: with(func(f *Fields) { f.Value = "high" }), field: "value", rule: ErrNotWhole,
			reason: `value "high" is not a whole number`},
		{name: "expiration past 180 days", raw: with(func(f *Fields) { f.Expiration = "259201" }),
			field: "expiration", rule: ErrOutOfRange,
			reason: `expiration "259201" is not -1 (remove), 0 (never expires) or 1 to 259200 minutes (180 days)`},
		{name: "expiration -2", raw: with(func(f *Fields) { f.Expiration = "-2" }),
			field: "expiration", rule: ErrOutOfRange,
			reason: `expiration "-2" is not -1 (remove), 0 (never expires) or 1 to 259200 minutes (180 days)`},
		{name: "expiration fraction", raw: with(func(f *Fields) { f.Expiration = "1.5" }),
			field: "expiration", rule: ErrNotWhole,
			reason: `expiration "1.5" is not a whole number`},
		{name: "bad default", raw: base, defaults: Defaults{Expiration: "forever"},
			field: "expiration", rule: ErrNotWhole,
			reason: `expiration "forever" is not a whole number`},

		// User IDs have their domain's shape (CheckUserID has the rest).
		{name: "Xandr user ID that is no number", raw: with(func(f *Fields) { f.UserID = "abc" }),
			field: "user_id", rule: ErrUserIDShape,
			reason: `user_id "abc" is not a Xandr user ID (a number from 1 to 18446744073709551615 in digits, without leading zeros)`},
		{name: "largest Xandr user ID", raw: with(func(f *Fields) { f.UserID = "18446744073709551615" }),
			want: Row{UserID: "18446744073709551615", SegID: 10001}},
		{name: "idfa in the Xandr user ID column", raw: with(func(f *Fields) { f.UserID = idfa }),
			field: "user_id", rule: ErrUserIDShape,
			reason: `user_id "` + idfa + `" is not a Xandr user ID (a number from 1 to 18446744073709551615 in digits, without leading zeros): it looks like an idfa or aaid; are columns swapped?`},
		{name: "Xandr user ID as an idfa", raw: with(func(f *Fields) { f.Domain = "IDFA" }),
			field: "user_id", rule: ErrUserIDShape,
			reason: `user_id "12345678900987654321" is not an idfa (a UUID: 8-4-4-4-12 hex digits): it looks like a Xandr user ID; are columns swapped?`},
		{name: "idfa from a default", raw: base, defaults: Defaults{Domain: "idfa"},
			field: "user_id", rule: ErrUserIDShape,
			reason: `user_id "12345678900987654321" is not an idfa (a UUID: 8-4-4-4-12 hex digits): it looks like a Xandr user ID; are columns swapped?`},
		{name: "--lenient-ids", raw: with(func(f *Fields) { f.UserID = "abc"; f.Domain = "md5udid" }), defaults: Defaults{LenientIDs: true},
			want: Row{UserID: "abc", Domain: "md5udid", SegID: 10001}},
		{name: "another rule broken comes first", raw: with(func(f *Fields) { f.UserID = "abc"; f.SegID = "x" }),
			field: "seg_id", rule: ErrNotWhole,
			reason: `seg_id "x" is not a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Validate(pos, tt.raw, tt.defaults)
			if got.Pos != pos {
				t.Errorf("Validate(%+v).Pos = %v, want %v", tt.raw, got.Pos, pos)
			}
			if tt.rule != nil {
				var fe *FieldError
				if !errors.As(got.Err, &fe) || !errors.Is(got.Err, tt.rule) || fe.Field != tt.field {
					t.Fatalf("Validate(%+v).Err = %#v, want a *FieldError for %s wrapping %v", tt.raw, got.Err, tt.field, tt.rule)
				}
				if got.Err.Error() != tt.reason {
					t.Errorf("Validate(%+v).Err.Error() = %q, want %q", tt.raw, got.Err.Error(), tt.reason)
				}
				if got.Valid() {
					t.Errorf("Validate(%+v).Valid() = true for an invalid row", tt.raw)
				}
				if got.Raw == nil || *got.Raw != tt.raw {
					t.Errorf("Validate(%+v).Raw = %+v, want the fields as read", tt.raw, got.Raw)
				}
				return
			}
			tt.want.Pos = pos
			if got != tt.want {
				t.Errorf("Validate(%+v) =\n%+v, want\n%+v", tt.raw, got, tt.want)
			}
		})
	}
}

// TestValidatorSharesUserID checks that consecutive rows of one user hold
// one copy of its ID, not one each, and never the reader's buffer.
func TestValidatorSharesUserID(t *testing.T) {
	v := newValidator(Defaults{})
	first := "1001"
	rec := record{{text: first}, {}, {text: "1"}}
	a := v.row(Position{}, &rec)
	rec[fUserID] = cell{text: " 1001"}
	b := v.row(Position{}, &rec)
	if a.UserID != "1001" || b.UserID != "1001" {
		t.Fatalf("user IDs %q, %q, want 1001", a.UserID, b.UserID)
	}
	if unsafe.StringData(a.UserID) != unsafe.StringData(b.UserID) {
		t.Errorf("two rows of one user hold two copies of its ID")
	}
	if unsafe.StringData(a.UserID) == unsafe.StringData(first) {
		t.Errorf("a row holds the text it was read from")
	}
}

func TestCheckUserID(t *testing.T) {
	tests := []struct {
		domain, id string
		looksLike  string // "-" for no error
	}{
		{"", "1", "-"},
		{"", "12345678900987654321", "-"},
		{"", "18446744073709551615", "-"},
		{"", "18446744073709551616", ""},
		{"", "99999999999999999999", ""},
		{"", "123456789012345678901", ""},
		{"", "0", ""},
		{"", "0123", ""},
		{"", "-5", ""},
		{"", "+5", ""},
		{"", "1.5e3", ""},
		{"", "1 000", ""},
		{"", "asdf", ""},
		{"", idfa, "an idfa or aaid"},
		{"", md5, "an md5udid"},
		{"", sha1, "a sha1udid or openudid"},
		{"idfa", idfa, "-"},
		{"IDFA", aaid, "-"},
		{"aaid", strings.ToUpper(aaid), "-"},
		{"idfa", "1BA98A6C-D1A5-49EF-AD1C-2D9230EBCD1", ""},
		{"idfa", "1BA98A6CD1A549EFAD1C2D9230EBCD13", "an md5udid"},
		{"idfa", "1BA98A6C-D1A5-49EF-AD1C-2D9230EBCD1G", ""},
		{"aaid", "12345678900987654321", "a Xandr user ID"},
		{"md5udid", md5, "-"},
		{"md5udid", strings.ToUpper(md5), "-"},
		{"md5udid", sha1, "a sha1udid or openudid"},
		{"md5udid", md5[:31], ""},
		{"sha1udid", sha1, "-"},
		{"sh1udid", sha1, "-"},
		{"openudid", sha1, "-"},
		{"openudid", md5, "an md5udid"},
		{"sha1udid", aaid, "an idfa or aaid"},
		{"email", "anything", "-"}, // no shape known
	}
	for _, tt := range tests {
		err := CheckUserID(tt.domain, tt.id)
		var ue *UserIDError
		switch {
		case tt.looksLike == "-" && err != nil:
			t.Errorf("CheckUserID(%q, %q) = %v, want nil", tt.domain, tt.id, err)
		case tt.looksLike == "-":
		case !errors.As(err, &ue) || !errors.Is(err, ErrUserIDShape):
			t.Errorf("CheckUserID(%q, %q) = %v, want a *UserIDError", tt.domain, tt.id, err)
		case ue.LooksLike != tt.looksLike:
			t.Errorf("CheckUserID(%q, %q) looks like %q, want %q", tt.domain, tt.id, ue.LooksLike, tt.looksLike)
		}
	}
	for _, tt := range []struct{ domain, id, want string }{
		{"md5udid", "abc", `user_id "abc" is not an md5udid (32 hex digits)`},
		{"sh1udid", md5, `user_id "` + md5 + `" is not a sha1udid (40 hex digits): it looks like an md5udid; are columns swapped?`},
		{"openudid", "x", `user_id "x" is not an openudid (40 hex digits)`},
		{"aaid", "x", `user_id "x" is not an aaid (a UUID: 8-4-4-4-12 hex digits)`},
	} {
		if err := CheckUserID(tt.domain, tt.id); err == nil || err.Error() != tt.want {
			t.Errorf("CheckUserID(%q, %q) = %v, want %q", tt.domain, tt.id, err, tt.want)
		}
	}
}

// TestInvalidRowUser checks that an invalid row names its user when its
// user_id and domain broke no rule, and only then: rtseg sync keeps such a
// user's delivered associations.
func TestInvalidRowUser(t *testing.T) {
	tests := []struct {
		name         string
		raw          Fields
		defaults     Defaults
		domain, user string
	}{
		{"bad value", Fields{UserID: " 1001 ", SegID: "5", Value: "x"}, Defaults{}, "", "1001"},
		{"no segment", Fields{UserID: idfa, Domain: "IDFA"}, Defaults{}, "idfa", idfa},
		{"bad expiration, domain by default", Fields{UserID: aaid, SegID: "5", Expiration: "-7"}, Defaults{Domain: "aaid"}, "aaid", aaid},
		{"bad user_id", Fields{UserID: "a\x01b", SegID: "5"}, Defaults{}, "", ""},
		{"unknown domain", Fields{UserID: "1001", Domain: "nope", SegID: "5"}, Defaults{}, "", ""},
		{"bad shape, bad value", Fields{UserID: "not-an-idfa", Domain: "idfa", SegID: "5", Value: "x"}, Defaults{}, "", ""},
		{"bad shape, lenient, bad value", Fields{UserID: "not-an-idfa", Domain: "idfa", SegID: "5", Value: "x"}, Defaults{LenientIDs: true}, "idfa", "not-an-idfa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := Validate(Position{File: "in.csv", Line: 2}, tt.raw, tt.defaults)
			if row.Valid() {
				t.Fatal("the row is valid")
			}
			if row.Domain != tt.domain || row.UserID != tt.user {
				t.Errorf("user %q of domain %q, want %q of %q", row.UserID, row.Domain, tt.user, tt.domain)
			}
		})
	}
}
