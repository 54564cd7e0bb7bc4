package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness/store/sqlite"
)

// openAPIDoc is the part of the OpenAPI document the tests read.
type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Info       struct{ Title, Version string }       `json:"info"`
	Security   []map[string][]string                 `json:"security"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
		Parameters      map[string]openAPIParam    `json:"parameters"`
	} `json:"components"`
}

type openAPIParam struct {
	Ref      string `json:"$ref"`
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

type openAPIOp struct {
	OperationID string                     `json:"operationId"`
	Parameters  []openAPIParam             `json:"parameters"`
	Security    *[]map[string][]string     `json:"security"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

// openAPIMethods are the keys of a path item that name operations.
var openAPIMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true,
	"head": true, "patch": true, "trace": true}

// echoParamNames maps the routes' path parameters to the document's names.
var echoParamNames = map[string]string{"cid": "collectionId", "fid": "facialId", "kid": "keyId", "wid": "webhookId", "eid": "eventId"}

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// openAPIPath turns an Echo route path into an OpenAPI path template.
func openAPIPath(p string) string {
	return echoParam.ReplaceAllStringFunc(p, func(m string) string {
		name := m[1:]
		if n, ok := echoParamNames[name]; ok {
			name = n
		}
		return "{" + name + "}"
	})
}

func loadOpenAPI(t *testing.T) *openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	dec := json.NewDecoder(bytes.NewReader(openAPI))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("the embedded openapi.json is not valid JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	return &doc
}

// documentedOps returns "METHOD /path" for every operation in the document.
func documentedOps(t *testing.T, doc *openAPIDoc) map[string]openAPIOp {
	t.Helper()
	ops := map[string]openAPIOp{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			if !openAPIMethods[method] {
				continue
			}
			var op openAPIOp
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	return ops
}

// registeredOps returns "METHOD /path" for every route apiRoutes registers,
// with the paths in OpenAPI form. apiRoutes only registers routes: the
// handlers and middleware read the Server's fields when a request comes.
func registeredOps() []string {
	e := echo.New()
	(&Server{cfg: Config{Webhooks: (*sqlite.DB)(nil)}}).apiRoutes(e)
	var out []string
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound { // the catch-alls Echo adds for group middleware
			continue
		}
		out = append(out, r.Method+" "+openAPIPath(r.Path))
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.Info.Title != "Likeness API" || doc.Info.Version == "" {
		t.Errorf("info = %+v, want title Likeness API and a version", doc.Info)
	}
	for _, name := range []string{"bearerAuth", "fioKey"} {
		if _, ok := doc.Components.SecuritySchemes[name]; !ok {
			t.Errorf("security scheme %s is missing", name)
		}
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearerAuth"] == nil {
		t.Errorf("global security = %v, want bearerAuth", doc.Security)
	}
}

// TestOpenAPIRoutes checks that the document and the router agree: every
// route apiRoutes registers is documented, and every documented operation is
// served.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := documentedOps(t, doc)
	registered := registeredOps()
	if len(registered) == 0 {
		t.Fatal("apiRoutes registered no routes")
	}
	served := map[string]bool{}
	for _, r := range registered {
		served[r] = true
		if _, ok := documented[r]; !ok {
			t.Errorf("route %s is not documented in server/openapi.json", r)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("operation %s is documented but not registered by apiRoutes", op)
		}
	}
}

// TestOpenAPIOperations checks each operation's own description: path
// parameters, security and the error replies every authenticated call can get.
func TestOpenAPIOperations(t *testing.T) {
	doc := loadOpenAPI(t)
	resolve := func(p openAPIParam) openAPIParam {
		if name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
			c, found := doc.Components.Parameters[name]
			if !found {
				t.Errorf("parameter %s is not in components", p.Ref)
			}
			return c
		}
		return p
	}
	ids := map[string]string{}
	for key, op := range documentedOps(t, doc) {
		_, path, _ := strings.Cut(key, " ")
		if op.OperationID == "" {
			t.Errorf("%s has no operationId", key)
		} else if other, dup := ids[op.OperationID]; dup {
			t.Errorf("%s and %s share operationId %s", key, other, op.OperationID)
		}
		ids[op.OperationID] = key

		// Every {param} of the path is declared as a required path parameter.
		declared := map[string]bool{}
		var pathLevel []openAPIParam
		if raw, ok := doc.Paths[path]["parameters"]; ok {
			if err := json.Unmarshal(raw, &pathLevel); err != nil {
				t.Fatalf("%s parameters: %v", path, err)
			}
		}
		for _, p := range append(pathLevel, op.Parameters...) {
			if p = resolve(p); p.In == "path" && p.Required {
				declared[p.Name] = true
			}
		}
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter %s is not declared", key, m[1])
			}
		}

		if _, ok := op.Responses["default"]; ok {
			t.Errorf("%s: list each status rather than a default reply", key)
		}
		okStatus := false
		for status := range op.Responses {
			if strings.HasPrefix(status, "2") {
				okStatus = true
			}
		}
		if !okStatus {
			t.Errorf("%s documents no success reply", key)
		}

		switch {
		case path == "/v1/openapi.json":
			if op.Security == nil || len(*op.Security) != 0 {
				t.Errorf("%s must need no key (security: [])", key)
			}
		case strings.HasPrefix(path, "/v1/"):
			if op.Security != nil {
				t.Errorf("%s must use the global bearerAuth security", key)
			}
		default: // FACEIO-compatible
			if op.Security == nil || len(*op.Security) != 1 || (*op.Security)[0]["fioKey"] == nil {
				t.Errorf("%s must use the fioKey security scheme", key)
			}
		}
		if path != "/v1/openapi.json" {
			for _, status := range []string{"401", "429", "500"} {
				if _, ok := op.Responses[status]; !ok {
					t.Errorf("%s does not document %s", key, status)
				}
			}
		}
	}
}

// TestOpenAPIServed checks that GET /v1/openapi.json serves the embedded
// document without a key.
func TestOpenAPIServed(t *testing.T) {
	e := echo.New()
	(&Server{cfg: Config{Webhooks: (*sqlite.DB)(nil)}}).apiRoutes(e)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json = %d, want 200", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if !bytes.Equal(rec.Body.Bytes(), openAPI) {
		t.Error("the served document is not the embedded openapi.json")
	}
}

func TestOpenAPIPathMapping(t *testing.T) {
	for in, want := range map[string]string{
		"/v1/collections/:cid/faces/:fid": "/v1/collections/{collectionId}/faces/{facialId}",
		"/v1/keys/:kid":                   "/v1/keys/{keyId}",
		"/checkfacialid":                  "/checkfacialid",
		"/v1/other/:thing":                "/v1/other/{thing}",
	} {
		if got := openAPIPath(in); got != want {
			t.Errorf("openAPIPath(%q) = %q, want %q", in, got, want)
		}
	}
}
