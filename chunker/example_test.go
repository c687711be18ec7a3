package chunker_test

import (
	"fmt"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
)

// printer is an Output that prints what the packer makes.
type printer struct{}

func (printer) Request(r *chunker.Request) error {
	fmt.Printf("request %d, %d users: %s\n", r.Seq, r.Users(), r.Body)
	return nil
}

func (printer) Superseded(row reader.Row, by reader.Position) error {
	fmt.Printf("%s superseded by %s\n", row.Pos, by)
	return nil
}

func ExamplePacker() {
	at := func(line int64) reader.Position { return reader.Position{File: "users.csv", Line: line} }
	rows := []reader.Row{
		{Pos: at(2), UserID: "123", SegID: 10001, Value: 1, HasValue: true},
		{Pos: at(3), UserID: "idfa-1", Domain: "idfa", SegCode: "fans", MemberID: 1234},
		{Pos: at(4), UserID: "123", SegID: 10002, Expiration: 1440, HasExpiration: true},
		{Pos: at(5), UserID: "123", SegID: 10001, Value: 2, HasValue: true},
	}
	limits := chunker.Limits{MaxUsers: 1000, MaxSegments: 100, MaxBytes: 1_000_000}
	p, err := chunker.NewPacker(limits, printer{})
	if err != nil {
		panic(err)
	}
	// The grouper gathers each user's rows, sorted or not, and packs the
	// users in order of domain and user ID.
	g := chunker.NewGrouper(p, chunker.GroupConfig{Memory: 16 << 20})
	for _, r := range rows {
		if err := g.Add(r); err != nil {
			panic(err)
		}
	}
	if err := g.Close(); err != nil {
		panic(err)
	}
	// Output:
	// users.csv:2 superseded by users.csv:5
	// request 0, 2 users: {"rt_segment":[{"user_id":"123","seg_block":[{"seg_id":10001,"value":2},{"seg_id":10002,"expiration":1440}]},{"user_id":"idfa-1","domain":"idfa","seg_block":[{"seg_code":"fans","member_id":1234}]}]}
}
