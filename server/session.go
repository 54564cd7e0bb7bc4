package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/pad"
)

// session is one widget operation over one WebSocket. One goroutine (run)
// owns the state and is the only writer; one reader goroutine feeds it.
type session struct {
	s     *Server
	conn  *websocket.Conn
	app   *likeness.Application
	set   *likeness.Settings // the application's policy when the session began
	op    string
	id    string
	log   *slog.Logger
	start time.Time

	// Set by the start message.
	started bool
	locale  string
	payload json.RawMessage
	// externalID or facialIDHint (authenticate), when the site passes one,
	// turn identification into a 1:1 comparison with that person.
	externalID, facialIDHint string
	idle, reply              time.Duration

	notice    *likeness.Notice // the notice shown, while consent is pending
	consent   *likeness.ConsentRecord
	capturing bool
	firstGood time.Time
	frameAt   time.Time  // when the frame being processed was received (server clock)
	clientIP  netip.Addr // for the failed-liveness limit

	good           []goodFrame
	usable         int       // usable frames seen, for pad.Scored
	template       []float32 // mean of the good frames' embeddings
	manyFacesSince time.Time // since when faces of comparable size are in view
	frameCount     int
	sawFace        bool // a face was seen since the idle timer last started

	phase    phase
	chal     *pad.Challenge
	pinStep  string   // "enroll", "confirm" or "authenticate"
	pinFirst string   // the PIN typed first, until it is confirmed
	pinCands []string // Facial IDs a PIN may unlock
	pinTries int

	// purpose is likeness.PurposePrivacy when the privacy page started the
	// session (admitPurpose), else empty.
	purpose string
	// release frees the session's slot (sessionSlots.take; idempotent).
	release func()
}

// goodFrame is what a usable frame leaves behind: only in memory, only for
// this session, never logged or stored.
type goodFrame struct {
	embedding []float32
	liveness  float32 // when scored (pad.Scored)
	scored    bool
	patch     engine.Patch    // the face's texture, for pad.TextureParallax
	tex       pad.TextureMemo // what pad.TextureParallax found for this frame
	landmarks engine.Landmarks
	age       engine.AgeFrame
	yaw       float32
	at        time.Time // when the server received the frame
}

// inFrame is a camera frame and when the server received it.
type inFrame struct {
	data []byte
	at   time.Time
}

// clientMsg is any control message from the widget.
type clientMsg struct {
	Type         string          `json:"type"`
	Locale       string          `json:"locale"`
	Payload      json.RawMessage `json:"payload"`
	UserConsent  bool            `json:"userConsent"`
	IdleTimeout  float64         `json:"idleTimeout"`
	ReplyTimeout float64         `json:"replyTimeout"`
	Accept       bool            `json:"accept"`
	Version      int             `json:"version"`
	SHA256       string          `json:"sha256"`
	OK           bool            `json:"ok"`
	Error        string          `json:"error"`
	PIN          string          `json:"pin"`
	ExternalID   string          `json:"externalId"`
	FacialIDHint string          `json:"facialIdHint"`
}

// failure ends a session with a FACEIO code and a short safe message; err is
// the cause, for the log only.
type failure struct {
	code likeness.FioCode
	msg  string
	err  error
}

func (f *failure) Error() string { return f.code.String() + ": " + f.msg }

func fail(code likeness.FioCode, msg string, err error) *failure {
	return &failure{code: code, msg: msg, err: err}
}

func newSession(s *Server, conn *websocket.Conn, app *likeness.Application, set *likeness.Settings, op, requestID string) *session {
	id := uuid.NewString()
	return &session{
		s: s, conn: conn, app: app, set: set, op: op, id: id, start: s.cfg.Now(),
		log:  s.log.With("session", id, "request_id", requestID, "app", app.PublicID, "op", op),
		idle: s.lim.IdleTimeout, reply: s.lim.ReplyTimeout,
	}
}

// run drives the session to one result or one error and closes the socket.
func (ss *session) run() {
	defer ss.conn.Close()
	// What the session changes is audited as "widget:<session>" (docs/api.md).
	ctx, cancel := context.WithCancel(likeness.WithActor(ss.s.base, "widget:"+ss.id))
	defer cancel()

	ss.conn.SetReadLimit(int64(4 * ss.s.lim.MaxFrameBytes))
	ctrl := make(chan []byte, 4)
	frames := make(chan inFrame, 1) // only the newest unprocessed frame is kept
	readErr := make(chan error, 1)
	readerDone := make(chan struct{})
	go ss.read(ctx, ctrl, frames, readErr, readerDone)
	defer func() { <-readerDone }() // the reader ends when the socket closes
	defer ss.conn.Close()

	ss.log.Info("session started")
	res, f := ss.loop(ctx, ctrl, frames, readErr)
	// The engine is done with this session: its slot is free before the
	// reply, so the client's next session never finds it still taken.
	ss.s.capacity.sessionDone(ss.s.cfg.Now().Sub(ss.start))
	ss.release()
	switch {
	case f != nil:
		ss.log.Info("session failed", "code", int(f.code), "reason", f.msg, "err", f.err,
			"frames", ss.frameCount, "ms", ss.s.cfg.Now().Sub(ss.start).Milliseconds())
		if f.code != 0 {
			ss.send(map[string]any{"type": "error", "code": int(f.code), "name": f.code.String(), "message": f.msg})
			ss.recordOutcome(ctx, f.code.String())
		}
	default:
		ss.log.Info("session succeeded", "frames", ss.frameCount,
			"ms_from_first_good_frame", ss.s.cfg.Now().Sub(ss.firstGood).Milliseconds())
		ss.send(res)
		ss.recordOutcome(ctx, "ok")
	}
	if f != nil {
		ss.discardConsent() // after the reply: the person need not wait for it
	}
	_ = ss.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
}

// recordOutcome counts how the session ended (Config.Outcomes), after the
// reply was sent; it outlives a shutdown's cancellation for a moment.
func (ss *session) recordOutcome(ctx context.Context, outcome string) {
	if ss.s.cfg.Observer != nil {
		ss.s.cfg.Observer.SessionEnded(ss.op, outcome)
	}
	if ss.s.cfg.Outcomes == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := ss.s.cfg.Outcomes.RecordOutcome(ctx, ss.app.ID, ss.op, outcome); err != nil {
		ss.log.Warn("outcome not counted", "err", err)
	}
}

// read is the one reader: control messages in order, frames newest-only.
func (ss *session) read(ctx context.Context, ctrl chan []byte, frames chan inFrame, readErr chan<- error, done chan<- struct{}) {
	defer close(done)
	windowStart, inWindow := time.Now(), 0
	for {
		mt, data, err := ss.conn.ReadMessage()
		if err != nil {
			readErr <- err
			return
		}
		switch mt {
		case websocket.TextMessage:
			select {
			case ctrl <- data:
			case <-ctx.Done():
				return
			}
		case websocket.BinaryMessage:
			// A client far over the frame rate is flooding: refuse it.
			if time.Since(windowStart) > time.Second {
				windowStart, inWindow = time.Now(), 0
			}
			inWindow++
			if inWindow > 4*ss.s.lim.MaxFPS {
				readErr <- errFlood
				return
			}
			fr := inFrame{data: data, at: ss.s.cfg.Now()}
			select {
			case frames <- fr:
			default: // busy: drop the older frame, keep the newest
				select {
				case <-frames:
				default:
				}
				select {
				case frames <- fr:
				default:
				}
			}
		}
	}
}

var errFlood = errors.New("frame flood")

func (ss *session) send(v any) {
	_ = ss.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := ss.conn.WriteJSON(v); err != nil {
		ss.log.Debug("write failed", "err", err)
	}
}

// loop is the state machine. It returns the result message or a failure.
func (ss *session) loop(ctx context.Context, ctrl <-chan []byte, frames <-chan inFrame, readErr <-chan error) (map[string]any, *failure) {
	// Every phase has its own timer (Limits): the start message, the consent
	// screen, the first frame once capture is allowed, capture itself (idle
	// and reply timeouts) and each PIN prompt, which replaces capture's.
	never := make(<-chan time.Time)
	startBy := time.NewTimer(ss.s.lim.StartWait)
	defer startBy.Stop()
	var idle, deadline, firstFrame, pinBy *time.Timer
	idleC, deadlineC, firstFrameC, pinC := never, never, never, never
	consentBy := time.NewTimer(ss.s.lim.ConsentWait)
	defer consentBy.Stop()
	beginCapture := func() {
		ss.capturing = true
		idle, deadline = time.NewTimer(ss.idle), time.NewTimer(ss.reply)
		firstFrame = time.NewTimer(ss.s.lim.FirstFrameWait)
		idleC, deadlineC, firstFrameC = idle.C, deadline.C, firstFrame.C
		ss.send(map[string]any{"type": "capture", "maxFps": ss.s.lim.MaxFPS, "maxBytes": ss.s.lim.MaxFrameBytes,
			"width": 640, "height": 480})
	}
	// askedPIN starts (or restarts) the PIN prompt's timer when a PIN is
	// asked for; capture's timers no longer apply.
	askedPIN := func() {
		if ss.phase != phasePIN {
			return
		}
		if pinBy == nil {
			idle.Stop()
			deadline.Stop()
			idleC, deadlineC = never, never
			pinBy = time.NewTimer(ss.s.lim.PINWait)
			pinC = pinBy.C
			return
		}
		pinBy.Reset(ss.s.lim.PINWait)
	}
	defer func() {
		for _, t := range []*time.Timer{idle, deadline, firstFrame, pinBy} {
			if t != nil {
				t.Stop()
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil, fail(likeness.FioProcessingErr, "The server is shutting down; try again.", ctx.Err())
		case err := <-readErr:
			if errors.Is(err, errFlood) {
				return nil, fail(likeness.FioTooManyRequests, "Too many frames.", err)
			}
			var ce *websocket.CloseError
			if errors.As(err, &ce) || errors.Is(err, websocket.ErrReadLimit) || strings.Contains(err.Error(), "read limit") {
				if errors.Is(err, websocket.ErrReadLimit) {
					return nil, fail(likeness.FioProcessingErr, "The message is too large.", err)
				}
			}
			return nil, fail(0, "client gone", err) // nobody to tell
		case <-startBy.C:
			if !ss.started {
				return nil, fail(likeness.FioTimeout, "No start message.", nil)
			}
		case <-consentBy.C:
			if ss.notice != nil {
				return nil, fail(likeness.FioTermsNotAccepted, "The consent notice was not answered.", nil)
			}
		case <-firstFrameC:
			return nil, fail(likeness.FioTimeout, "No camera frame came in time.", nil)
		case <-pinC:
			return nil, fail(likeness.FioTimeout, "No PIN was entered in time.", nil)
		case <-idleC:
			return nil, fail(likeness.FioNoFacesDetected, "No face was seen in time.", nil)
		case <-deadlineC:
			return nil, fail(likeness.FioTimeout, "The operation took too long.", nil)
		case raw := <-ctrl:
			var m clientMsg
			if err := json.Unmarshal(raw, &m); err != nil {
				return nil, fail(likeness.FioProcessingErr, "Malformed control message.", err)
			}
			if m.Type == "pin" {
				reply, done, f := ss.handlePIN(ctx, m.PIN)
				if f != nil {
					return nil, f
				}
				if done {
					return reply, nil
				}
				askedPIN()
				ss.send(reply)
				continue
			}
			if f := ss.handleControl(ctx, m, beginCapture); f != nil {
				return nil, f
			}
		case fr := <-frames:
			ss.frameCount++
			if !ss.capturing {
				// No frame is looked at before the session is ready for it;
				// for enrollment that means before consent is recorded.
				return nil, fail(likeness.FioProcessingErr, "Frames were sent before capture was allowed.", nil)
			}
			if firstFrameC != never {
				firstFrame.Stop()
				firstFrameC = never
			}
			ss.frameAt = fr.at
			began := time.Now()
			reply, done, f := ss.processFrame(ctx, fr.data)
			if ss.s.cfg.Observer != nil {
				ss.s.cfg.Observer.FrameProcessed(time.Since(began))
			}
			if f != nil {
				return nil, f
			}
			if done {
				return reply, nil
			}
			if ss.phase == phasePIN {
				if pinBy == nil { // only when the PIN is first asked for
					askedPIN()
				}
			} else if ss.sawFace { // idleTimeout counts time without any face
				ss.sawFace = false
				idle.Reset(ss.idle)
			}
			ss.send(reply)
		}
	}
}

// handleControl applies one control message.
func (ss *session) handleControl(ctx context.Context, m clientMsg, beginCapture func()) *failure {
	switch m.Type {
	case "start":
		if ss.started {
			return fail(likeness.FioProcessingErr, "Duplicate start message.", nil)
		}
		ss.started = true
		ss.locale = m.Locale
		ss.idle = clampDuration(m.IdleTimeout, ss.s.lim.IdleTimeout)
		ss.reply = clampDuration(m.ReplyTimeout, ss.s.lim.ReplyTimeout)
		if ss.op == opEnroll && len(m.Payload) > 0 && string(m.Payload) != "null" {
			if len(m.Payload) > likeness.MaxPayloadBytes {
				return fail(likeness.FioProcessingErr, "The payload is larger than 16 KB.", nil)
			}
			if !json.Valid(m.Payload) {
				return fail(likeness.FioProcessingErr, "The payload is not valid JSON.", nil)
			}
			ss.payload = m.Payload
		}
		if len(m.ExternalID) > 256 || len(m.FacialIDHint) > 64 {
			return fail(likeness.FioProcessingErr, "The identifier is too long.", nil)
		}
		if ss.op == opAuthenticate {
			ss.externalID, ss.facialIDHint = m.ExternalID, m.FacialIDHint
		}
		if ss.op != opEnroll {
			beginCapture()
			return nil
		}
		notice, err := ss.s.cfg.Consent.CurrentNotice(ctx, ss.app, ss.locale)
		if err != nil {
			return fail(likeness.FioProcessingErr, "The consent notice is unavailable.", err)
		}
		if m.UserConsent {
			// The site says it collected consent itself: record its attestation
			// against the current notice before any frame is accepted.
			if err := ss.recordConsent(ctx, likeness.ConsentAttestation, notice); err != nil {
				return fail(likeness.FioProcessingErr, "Consent could not be recorded.", err)
			}
			beginCapture()
			return nil
		}
		ss.notice = notice
		ss.send(map[string]any{"type": "consent", "version": notice.Version, "sha256": notice.SHA256,
			"locale": notice.Locale, "title": notice.Title, "text": notice.Text,
			"privacyUrl": privacyLink(ss.set, ss.s.cfg.PublicURL, ss.app.PublicID)})
	case "consent":
		if ss.notice == nil {
			return fail(likeness.FioProcessingErr, "No consent was asked for.", nil)
		}
		if !m.Accept {
			return fail(likeness.FioTermsNotAccepted, "The consent notice was declined.", nil)
		}
		if m.Version != ss.notice.Version || m.SHA256 != ss.notice.SHA256 {
			return fail(likeness.FioTermsNotAccepted, "The accepted notice is not the current one.", nil)
		}
		if err := ss.recordConsent(ctx, likeness.ConsentWidget, ss.notice); err != nil {
			return fail(likeness.FioProcessingErr, "Consent could not be recorded.", err)
		}
		ss.notice = nil
		beginCapture()
	case "camera":
		if !m.OK {
			return fail(likeness.FioPermissionRefused, "The camera is not available.", nil)
		}
	case "abort":
		return fail(0, "aborted by the user", nil)
	default:
		return fail(likeness.FioProcessingErr, "Unknown control message.", nil)
	}
	return nil
}

func (ss *session) recordConsent(ctx context.Context, kind string, n *likeness.Notice) error {
	rec, err := ss.s.cfg.Consent.RecordConsent(ctx, likeness.ConsentRecord{
		AppID: ss.app.ID, Kind: kind, NoticeVersion: n.Version, NoticeSHA256: n.SHA256,
		Locale: n.Locale, SessionID: ss.id, Pending: true,
	})
	if err != nil {
		return err
	}
	ss.consent = rec
	return nil
}

// clampDuration turns a widget timeout in seconds into a duration within
// [5 s, 3× the default]; 0 means the default.
func clampDuration(sec float64, def time.Duration) time.Duration {
	if sec <= 0 || math.IsNaN(sec) {
		return def
	}
	d := time.Duration(sec * float64(time.Second))
	return min(max(d, 5*time.Second), 3*def)
}
