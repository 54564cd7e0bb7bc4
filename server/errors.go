package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
)

// httpStatus maps an application error code to an HTTP status.
var httpStatus = map[string]int{
	likeness.EINVALID:      http.StatusBadRequest,
	likeness.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	likeness.ENOTFOUND:     http.StatusNotFound,
	likeness.ECONFLICT:     http.StatusConflict,
	likeness.EUNAUTHORIZED: http.StatusUnauthorized,
	likeness.EFORBIDDEN:    http.StatusForbidden,
	likeness.ERATELIMIT:    http.StatusTooManyRequests,
	likeness.EUNAVAILABLE:  http.StatusServiceUnavailable,
	likeness.EINTERNAL:     http.StatusInternalServerError,
	likeness.ENOFACE:       http.StatusUnprocessableEntity,
	likeness.EMANYFACES:    http.StatusUnprocessableEntity,
	likeness.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	likeness.ECONSENT:      http.StatusForbidden,
	likeness.EPRECONDITION: http.StatusPreconditionFailed,
	likeness.EMETHOD:       http.StatusMethodNotAllowed,
}

// retryAfterBusy is the Retry-After (seconds) of a 503 that sets none of
// its own: an overloaded engine or hashing pool frees up within seconds.
const retryAfterBusy = "2"

// widgetError is a refusal the widget turns into a FACEIO code.
type widgetError struct {
	err  error
	code likeness.FioCode
}

func (w *widgetError) Error() string { return w.err.Error() }
func (w *widgetError) Unwrap() error { return w.err }

// withFio attaches a FACEIO code to an error for the widget routes.
func withFio(err error, code likeness.FioCode) error { return &widgetError{err: err, code: code} }

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	FioCode likeness.FioCode `json:"fioCode,omitempty"`
	// RetryAfter repeats a widget refusal's Retry-After header (seconds)
	// for the widget, which reads the body.
	RetryAfter int `json:"retryAfter,omitempty"`
}

// handleError is Echo's HTTPErrorHandler: the one place where errors become
// HTTP replies. Clients get the public code and message; the cause is logged
// with the request ID and never sent.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		// Echo's own errors (404 route, 405, body too large…): public by design.
		code := likeness.EINVALID
		switch he.Code {
		case http.StatusNotFound:
			code = likeness.ENOTFOUND
		case http.StatusRequestEntityTooLarge:
			code = likeness.ETOOLARGE
		case http.StatusMethodNotAllowed:
			code = likeness.EMETHOD
		case http.StatusTooManyRequests:
			code = likeness.ERATELIMIT
		case http.StatusUnauthorized:
			code = likeness.EUNAUTHORIZED
		case http.StatusForbidden:
			code = likeness.EFORBIDDEN
		}
		err = likeness.Errorf(code, "%s", http.StatusText(he.Code))
	}
	code := likeness.ErrorCode(err)
	status, ok := httpStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusServiceUnavailable && c.Response().Header().Get("Retry-After") == "" {
		c.Response().Header().Set("Retry-After", retryAfterBusy)
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = likeness.ErrorMessage(err)
	var we *widgetError
	if errors.As(err, &we) {
		body.FioCode = we.code
		body.RetryAfter, _ = strconv.Atoi(c.Response().Header().Get("Retry-After"))
	}
	log := s.log.With("request_id", c.Response().Header().Get(echo.HeaderXRequestID), "path", c.Request().URL.Path, "status", status)
	if status >= 500 {
		log.Error("request failed", "err", err)
	} else {
		log.Info("request refused", "code", code, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if c.Get(fioStyle) != nil { // FACEIO-compatible endpoints reply in FACEIO's shape
		_ = plainJSON(c, status, map[string]any{"status": status, "error": body.Error.Message})
		return
	}
	_ = plainJSON(c, status, body)
}

// plainJSON writes v as JSON without HTML escaping, so that a message reads
// "Authorization: Bearer <key>", not "Bearer \u003ckey\u003e" (the reply is
// application/json with nosniff: no browser renders it as HTML).
func plainJSON(c echo.Context, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return c.Blob(status, echo.MIMEApplicationJSON, buf.Bytes())
}
