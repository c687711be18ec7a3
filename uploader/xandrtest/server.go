package xandrtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Handler serves the emulated API. Use NewHandler for a server of your own
// (rtseg serve-mock) or NewServer for a test.
type Handler struct {
	cfg config
	mux *http.ServeMux

	mu      sync.Mutex
	tokens  map[string]*token
	issued  []string // every token POST /auth gave out, expired or not
	members map[int64]*memberLimits
	logins  window
	rng     *mrand.Rand // draws faults; guarded by mu
	// latencyRNG draws answer delays (Faults.Latency), apart from rng so
	// that a seed meets the same faults with or without them; guarded by mu.
	latencyRNG *mrand.Rand
	inFlight   int
	state      map[UserKey]map[string]Assoc
	stats      Stats
	arrivals   []Arrival // every call processed (Arrivals)
	api        apiState  // GET /segment and /rt-segment-processed (segments.go, processed.go)
}

type token struct {
	member   int64
	issued   time.Time
	lastUsed time.Time
}

type memberLimits struct {
	posts window
	users window
}

func newMemberLimits() *memberLimits {
	return &memberLimits{posts: newWindow(time.Second), users: newWindow(time.Second)}
}

// UserKey identifies a user as the service does: domain ("" for a Xandr ID)
// and user ID.
type UserKey struct {
	Domain string `json:"domain,omitempty"`
	UserID string `json:"user_id"`
}

// Assoc is a user's membership of one segment. Nil fields were not given.
type Assoc struct {
	Value      *int64 `json:"value,omitempty"`
	Expiration *int64 `json:"expiration,omitempty"`
}

// State maps each user to its segments, keyed "123" for a segment ID and
// "member:code" for a code. Removed associations are absent.
type State map[UserKey]map[string]Assoc

// Stats is what the emulator saw.
type Stats struct {
	Posts        int `json:"posts"`        // POST /rt-segment calls
	Processed    int `json:"processed"`    // calls processed (answered 200, or dropped or slow after processing)
	Throttled    int `json:"throttled"`    // calls answered 429
	Unauthorized int `json:"unauthorized"` // calls answered 401
	TooLarge     int `json:"too_large"`    // calls answered 413
	Unavailable  int `json:"unavailable"`  // calls answered 503 by an injected fault
	Dropped      int `json:"dropped"`      // calls processed, then their connection closed unanswered
	Slowed       int `json:"slowed"`       // calls processed, then answered late
	Logins       int `json:"logins"`       // successful POST /auth
	// LoginsRefused counts POST /auth calls refused for bad credentials;
	// LoginsThrottled those answered 429 over the login limit.
	LoginsRefused   int `json:"logins_refused"`
	LoginsThrottled int `json:"logins_throttled"`
	Users           int `json:"users"`    // users processed
	Segments        int `json:"segments"` // seg_blocks processed
	// MaxPostsInWindow is the most POST /rt-segment calls (authenticated)
	// that arrived in any one-second window; MaxUsersInWindow the most users
	// admitted in any one-second window.
	MaxPostsInWindow   int `json:"max_posts_in_window"`
	MaxUsersInWindow   int `json:"max_users_in_window"`
	MaxUsersInRequest  int `json:"max_users_in_request"`
	MaxSegmentsForUser int `json:"max_segments_for_user"`
	MaxBodyBytes       int `json:"max_body_bytes"`
	// MaxInFlight is the most calls (of any kind) handled at the same time.
	MaxInFlight int `json:"max_in_flight"`
}

// NewHandler returns an emulator with the given options.
func NewHandler(opts ...Option) *Handler {
	h := &Handler{
		cfg:     defaultConfig(),
		tokens:  map[string]*token{},
		members: map[int64]*memberLimits{},
		state:   State{},
	}
	for _, o := range opts {
		o(&h.cfg)
	}
	h.rng = mrand.New(mrand.NewPCG(h.cfg.seed, h.cfg.seed))
	h.latencyRNG = mrand.New(mrand.NewPCG(h.cfg.seed, ^h.cfg.seed))
	h.logins = newWindow(h.cfg.loginSpan)
	now := h.cfg.now()
	for t := range h.cfg.tokens {
		h.tokens[t] = &token{member: h.cfg.member, issued: now, lastUsed: now}
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("POST /rt-segment", h.serveSegment)
	h.mux.HandleFunc("POST /auth", h.serveAuth)
	h.mux.HandleFunc("GET /state", h.serveState)
	h.mux.HandleFunc("GET /segment", h.serveSegmentLookup)
	h.mux.HandleFunc("GET /rt-segment-processed", h.serveProcessed)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.inFlight++
	h.stats.MaxInFlight = max(h.stats.MaxInFlight, h.inFlight)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.inFlight--
		h.mu.Unlock()
	}()
	h.mux.ServeHTTP(w, r)
}

// State returns a copy of the user-segment associations held now.
func (h *Handler) State() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(State, len(h.state))
	for u, segs := range h.state {
		c := make(map[string]Assoc, len(segs))
		for k, a := range segs {
			c[k] = a
		}
		out[u] = c
	}
	return out
}

// IssuedTokens returns every token that POST /auth gave out, so that tests
// can check none of them leaks into what a client writes.
func (h *Handler) IssuedTokens() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.issued...)
}

// Arrival is one POST /rt-segment call that the emulator processed: when
// it arrived, the token it came with and its users.
type Arrival struct {
	At    time.Time
	Token string
	Users int
}

// Arrivals returns every call processed so far, in the order processed,
// so that tests can see how several clients of one member shared its
// limits.
func (h *Handler) Arrivals() []Arrival {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Arrival(nil), h.arrivals...)
}

// Stats returns what the emulator saw so far.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stats
}

// Server is an emulator listening on a loopback port.
type Server struct {
	*Handler
	// URL is the base URL, without a trailing slash.
	URL string
	srv *httptest.Server
}

// NewServer starts an emulator on a loopback port. Close it when done.
func NewServer(opts ...Option) *Server {
	h := NewHandler(opts...)
	srv := httptest.NewServer(h)
	return &Server{Handler: h, URL: srv.URL, srv: srv}
}

// Client returns an HTTP client for the server, as httptest.Server's does.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

type apiError struct {
	Status  string `json:"status"`
	ErrorID string `json:"error_id"`
	Error   string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"response": v})
}

func writeError(w http.ResponseWriter, code int, id, msg string) {
	writeJSON(w, code, apiError{Status: "error", ErrorID: id, Error: msg})
}

func (h *Handler) serveAuth(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Auth struct {
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"auth"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, ErrSyntax, "could not parse the auth request: "+err.Error())
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.now()
	if ok, wait := h.logins.fits(now, 1, h.cfg.logins); !ok {
		h.stats.LoginsThrottled++
		w.Header().Set("Retry-After", retryAfter(wait))
		writeError(w, http.StatusTooManyRequests, ErrRateExceeded, fmt.Sprintf(MsgLoginRateLimited, h.cfg.logins, h.cfg.loginSpan))
		return
	}
	h.logins.add(now, 1)
	if h.cfg.username == "" || body.Auth.Username != h.cfg.username || body.Auth.Password != h.cfg.password {
		h.stats.LoginsRefused++
		writeError(w, http.StatusUnauthorized, ErrUnauth, MsgBadLogin)
		return
	}
	var b [8]byte
	rand.Read(b[:])
	tok := fmt.Sprintf("hbapi:%d:%s:emu", h.cfg.member, hex.EncodeToString(b[:]))
	h.tokens[tok] = &token{member: h.cfg.member, issued: now, lastUsed: now}
	h.issued = append(h.issued, tok)
	h.stats.Logins++
	writeJSON(w, http.StatusOK, map[string]string{"status": "OK", "token": tok})
}

// authorize finds the caller's member from the Authorization header or the
// access_token query parameter. Call with h.mu held.
func (h *Handler) authorize(r *http.Request, now time.Time) (int64, bool) {
	tok := r.Header.Get("Authorization")
	if tok == "" {
		tok = r.URL.Query().Get("access_token")
	}
	t, ok := h.tokens[tok]
	if !ok {
		return 0, false
	}
	if now.Sub(t.issued) >= h.cfg.tokenMax || now.Sub(t.lastUsed) >= h.cfg.tokenIdle {
		delete(h.tokens, tok)
		return 0, false
	}
	t.lastUsed = now
	return t.member, true
}

func (h *Handler) serveState(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	h.State().WriteJSON(w)
}

// WriteJSON writes the state as a JSON array of users sorted by domain and
// user ID, each with its segments sorted by key.
func (s State) WriteJSON(w io.Writer) error {
	type seg struct {
		Segment string `json:"segment"`
		Assoc
	}
	type user struct {
		UserKey
		Segments []seg `json:"segments"`
	}
	users := make([]user, 0, len(s))
	for k, segs := range s {
		u := user{UserKey: k}
		for key, a := range segs {
			u.Segments = append(u.Segments, seg{Segment: key, Assoc: a})
		}
		sort.Slice(u.Segments, func(i, j int) bool { return u.Segments[i].Segment < u.Segments[j].Segment })
		users = append(users, u)
	}
	sort.Slice(users, func(i, j int) bool {
		if users[i].Domain != users[j].Domain {
			return users[i].Domain < users[j].Domain
		}
		return users[i].UserID < users[j].UserID
	})
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(users)
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}
