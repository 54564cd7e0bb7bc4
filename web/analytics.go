package web

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness/templates"
)

// analyticsDays are the periods offered; the first is the default.
var analyticsDays = []int{30, 7, 90}

// handleAnalytics charts the application's widget outcomes per day:
// enrollments, authentications, and failures by FACEIO code.
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
	enroll := templates.Series{Name: "Enrollments", Values: make([]int, days)}
	auth := templates.Series{Name: "Authentications", Values: make([]int, days)}
	failures := map[string][]int{}
	var sums struct{ enroll, auth, failed int }
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
		default:
			if failures[oc.Outcome] == nil {
				failures[oc.Outcome] = make([]int, days)
			}
			failures[oc.Outcome][i] += oc.Count
			sums.failed += oc.Count
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
		fs = append(fs, templates.Series{Name: r, Values: failures[r]})
	}
	v := templates.AnalyticsView{Chrome: h.chrome(c, "Analytics"), App: a.header("analytics"), Days: days,
		DayChoices:  []int{7, 30, 90},
		Enrollments: templates.NewChart("enroll", "Enrollments", dates, []templates.Series{enroll}, 0),
		Auths:       templates.NewChart("auth", "Authentications", dates, []templates.Series{auth}, 3),
		Failures:    templates.NewChart("fail", "Failures by reason", dates, fs, 1),
		Totals: []templates.Total{{Label: "enrollments", Value: sums.enroll}, {Label: "authentications", Value: sums.auth},
			{Label: "failed sessions", Value: sums.failed}},
	}
	v.Failures.ShowLegend = true // the reasons are the point of this chart
	return h.render(c, http.StatusOK, templates.AnalyticsPage(v))
}
