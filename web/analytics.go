package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/templates"
)

// analyticsDays are the periods offered; the first is the default.
var analyticsDays = []int{30, 7, 90}

// outcomeLabels name the widget's outcomes (FACEIO code names) in words
// for site owners.
var outcomeLabels = map[string]string{
	"PERMISSION_REFUSED": "Camera not allowed", "NO_FACES_DETECTED": "No face seen",
	"UNRECOGNIZED_FACE": "Face not recognised", "MANY_FACES": "Several faces in view",
	"PAD_ATTACK": "Liveness check failed", "FACE_MISMATCH": "Faces did not match",
	"NETWORK_IO": "Connection lost", "WRONG_PIN_CODE": "Wrong PIN", "PROCESSING_ERR": "Server error",
	"UNAUTHORIZED": "Application not usable", "TERMS_NOT_ACCEPTED": "Notice declined",
	"UI_NOT_READY": "Widget not ready", "SESSION_EXPIRED": "Closed by the visitor", "TIMEOUT": "Timed out",
	"TOO_MANY_REQUESTS": "Rate limited", "EMPTY_ORIGIN": "No origin sent",
	"FORBIDDDEN_ORIGIN": "Site not allowed", "FORBIDDDEN_COUNTRY": "Country not allowed",
	"UNIQUE_PIN_REQUIRED": "PIN already taken", "SESSION_IN_PROGRESS": "Session already open",
	"FACE_DUPLICATION": "Already enrolled", "MINORS_NOT_ALLOWED": "Under the minimum age",
}

// outcomeLabel is an outcome in words, with its FACEIO code number.
func outcomeLabel(name string) string {
	for c := likeness.FioCode(1); c <= likeness.FioMinorsNotAllowed; c++ {
		if c.String() == name {
			return fmt.Sprintf("%s (%d)", outcomeLabels[name], int(c))
		}
	}
	return name
}

// Outcomes refused before a session started (admission), by what refused
// them; they are not counted in the success rate.
var refusedBy = map[string]string{
	likeness.FioForbiddenOrigin.String(): "origin", likeness.FioEmptyOrigin.String(): "origin",
	likeness.FioForbiddenCountry.String(): "country", likeness.FioTooManyRequests.String(): "rate limits",
	likeness.FioUnauthorized.String(): "unknown public ID",
}

// The failures charted over time: the liveness check, and recognition.
var (
	livenessOutcomes    = []string{likeness.FioPADAttack.String()}
	recognitionOutcomes = []string{likeness.FioUnrecognizedFace.String(), likeness.FioFaceMismatch.String()}
)

// handleAnalytics charts the application's widget outcomes per day:
// enrollments, authentications, liveness and recognition failures, and
// failures by reason; with the success rate and the refused attempts.
func (h *Handler) handleAnalytics(c echo.Context, a *appCtx) error {
	days := analyticsDays[0]
	if n, err := strconv.Atoi(c.QueryParam("days")); err == nil && slices.Contains(analyticsDays, n) {
		days = n
	}
	today := h.now().UTC().Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -(days - 1))
	counts, err := h.store.Outcomes(c.Request().Context(), a.app.ID, first)
	if err != nil {
		return err
	}
	dates := make([]time.Time, days)
	for i := range dates {
		dates[i] = first.AddDate(0, 0, i)
	}
	index := func(d time.Time) int { return int(d.Sub(first) / (24 * time.Hour)) }
	series := func(name string) templates.Series { return templates.Series{Name: name, Values: make([]int, days)} }
	enroll, auth := series("Enrollments"), series("Authentications")
	liveness, recognition := series("Liveness check failed"), series("Not recognised or faces did not match")
	failures := map[string][]int{}
	var sums struct{ enroll, auth, failed int }
	refused := map[string]int{}
	for _, oc := range counts {
		i := index(oc.Day)
		if i < 0 || i >= days {
			continue
		}
		switch {
		case oc.Outcome == "ok" && oc.Op == "enroll":
			enroll.Values[i] += oc.Count
			sums.enroll += oc.Count
		case oc.Outcome == "ok":
			auth.Values[i] += oc.Count
			sums.auth += oc.Count
		case refusedBy[oc.Outcome] != "":
			refused[refusedBy[oc.Outcome]] += oc.Count
		default:
			if failures[oc.Outcome] == nil {
				failures[oc.Outcome] = make([]int, days)
			}
			failures[oc.Outcome][i] += oc.Count
			sums.failed += oc.Count
			if slices.Contains(livenessOutcomes, oc.Outcome) {
				liveness.Values[i] += oc.Count
			}
			if slices.Contains(recognitionOutcomes, oc.Outcome) {
				recognition.Values[i] += oc.Count
			}
		}
	}
	// Failure reasons, most frequent first.
	reasons := make([]string, 0, len(failures))
	total := map[string]int{}
	for r, vals := range failures {
		reasons = append(reasons, r)
		for _, n := range vals {
			total[r] += n
		}
	}
	slices.SortFunc(reasons, func(x, y string) int {
		if total[x] != total[y] {
			return total[y] - total[x]
		}
		if x < y {
			return -1
		}
		return 1
	})
	var fs []templates.Series
	for _, r := range reasons {
		fs = append(fs, templates.Series{Name: outcomeLabel(r), Values: failures[r]})
	}
	ok := sums.enroll + sums.auth
	rate := "none yet"
	if started := ok + sums.failed; started > 0 {
		rate = fmt.Sprintf("%.0f%%", 100*float64(ok)/float64(started))
	}
	refusedTotal := 0
	for _, n := range refused {
		refusedTotal += n
	}
	v := templates.AnalyticsView{Chrome: h.chrome(c, "Analytics"), App: a.header("analytics"), Days: days,
		DayChoices:  []int{7, 30, 90},
		Enrollments: templates.NewChart("enroll", "Enrollments", dates, []templates.Series{enroll}, 0),
		Auths:       templates.NewChart("auth", "Authentications", dates, []templates.Series{auth}, 3),
		Checks: templates.NewChart("checks", "Liveness and recognition failures", dates,
			[]templates.Series{liveness, recognition}, 1),
		Failures:    templates.NewChart("fail", "Failures by reason", dates, fs, 1),
		SuccessRate: rate,
		Totals: []templates.Total{{Label: "enrollments", Value: sums.enroll}, {Label: "authentications", Value: sums.auth},
			{Label: "failed sessions", Value: sums.failed}, {Label: "refused before starting", Value: refusedTotal}},
		Refused: []templates.Total{{Label: "site not allowed or no origin (16, 17)", Value: refused["origin"]},
			{Label: "unknown public ID, from one of this application's origins (10)", Value: refused["unknown public ID"]},
			{Label: "rate limits (15)", Value: refused["rate limits"]},
			{Label: "country not allowed (18)", Value: refused["country"]}},
	}
	v.Checks.ShowLegend = true
	v.Failures.ShowLegend = true // the reasons are the point of this chart
	return h.render(c, http.StatusOK, templates.AnalyticsPage(v))
}
