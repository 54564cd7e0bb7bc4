package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/consent"
	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/server"
	"github.com/likeness/likeness/store/sqlite"
	"github.com/likeness/likeness/web"
)

// The embedded store is the console's store too.
var _ web.Store = (*sqlite.DB)(nil)

// newPages builds the console and privacy pages of `serve`. With --demo the
// first account signed up becomes the owner of the demo application's
// organization, so the demo's enrollments show in the console.
func newPages(ctx context.Context, db *sqlite.DB, cfg server.Config, signUp string, hashing *crypt.Pool, privateHooks bool) (*web.Handler, error) {
	wc := web.Config{Store: db, Notices: consent.New(db, cfg.Now, consent.WithPublicURL(cfg.PublicURL)), PublicURL: cfg.PublicURL, Logger: cfg.Logger,
		Now: cfg.Now, SignUp: signUp, Hashing: hashing, WebhookAllowPrivate: privateHooks,
		// The same trusted-proxy rule as the widget's rate limits.
		ClientIP: func(r *http.Request) string { return cfg.Network.ClientIP(r).String() }}
	if cfg.DemoPublicID != "" {
		app, err := db.AppByPublicID(ctx, cfg.DemoPublicID)
		if err != nil {
			return nil, err
		}
		wc.DemoOrgID = app.OrgID
	}
	h, err := web.New(wc)
	if err != nil {
		return nil, usageError(err.Error())
	}
	return h, nil
}

// checkSignUp validates --console-signup before anything starts.
func checkSignUp(signUp string) error {
	switch signUp {
	case web.SignUpFirst, web.SignUpOpen, web.SignUpOff:
		return nil
	}
	return usageError(fmt.Sprintf("--console-signup must be %s, %s or %s, not %q", web.SignUpFirst, web.SignUpOpen, web.SignUpOff, signUp))
}

const adminUsage = "usage: likeness admin create --data DIR --email EMAIL [--password-file FILE] [--org NAME] [--claim-unowned=false] [--operator] [--json]\n" +
	"  (without --password-file the password is read from standard input)\n" +
	"  --operator makes a server operator's account: it reads an organization's console pages only while that organization grants support access"

// runAdmin makes a console account from the command line: the first
// account of a server whose sign-up is closed, or a way back in.
func runAdmin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError(adminUsage)
	}
	fs := flag.NewFlagSet("admin create", flag.ContinueOnError)
	data := fs.String("data", "", "data directory (embedded store)")
	sl := storeFlags(fs)
	email := fs.String("email", "", "the account's email address")
	pwFile := fs.String("password-file", "", "file holding the password (default: read standard input)")
	org := fs.String("org", "", "name of the account's organization (default: the email's domain)")
	publicURL := fs.String("public-url", "", "the server's URL, for the sign-in address printed (default: the one likeness serve last ran with on --data)")
	claim := fs.Bool("claim-unowned", true, "also make the account owner of every organization with no member (applications made by likeness app create)")
	asJSON := fs.Bool("json", false, "print JSON")
	operator := fs.Bool("operator", false, "make a server operator: sees an organization only while it grants support access (read-only, audited)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *email == "" {
		return usageError(adminUsage)
	}
	password, err := readPassword(*pwFile, stdin)
	if err != nil {
		return err
	}
	if err := web.CheckNewPassword(password); err != nil {
		return errors.New(likeness.ErrorMessage(err))
	}
	if *org == "" {
		*org = *email
		if _, domain, ok := strings.Cut(*email, "@"); ok && domain != "" {
			*org = strings.ToLower(domain)
		}
	}
	hash, err := web.HashPassword(password, web.DefaultPasswordParams())
	if err != nil {
		return err
	}
	db, err := openStoreAt(ctx, sl.at(*data), true)
	if err != nil {
		return err
	}
	defer db.Close()
	actx := likeness.WithActor(ctx, "system:admin-cli")
	u, m, err := db.CreateAccount(actx, likeness.AccountCreate{Email: *email, PasswordHash: hash, OrgName: *org})
	if err != nil {
		var le *likeness.Error
		if errors.As(err, &le) {
			return errors.New(le.Message)
		}
		return err
	}
	if *operator { // support.go's rules: no organization's data without its grant
		if err := db.SetOperator(actx, u.ID, true); err != nil {
			return err
		}
		*claim = false
	}
	claimed := 0
	if *claim {
		if claimed, err = db.ClaimUnownedOrgs(actx, u.ID); err != nil {
			return err
		}
	}
	if *publicURL == "" {
		if *publicURL, err = db.ServerURL(ctx); err != nil {
			return err
		}
	}
	signIn := ""
	if *publicURL != "" {
		signIn = strings.TrimRight(*publicURL, "/") + "/console/signin"
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"userId": u.ID, "email": u.Email, "orgId": m.Org.ID,
			"orgName": m.Org.Name, "claimedOrganizations": claimed, "operator": *operator, "createdAt": u.CreatedAt.Format(time.RFC3339),
			"signInUrl": signIn})
	}
	fmt.Fprintf(stdout, "account %s created, owner of the organization %q\n", u.Email, m.Org.Name)
	if claimed > 0 {
		fmt.Fprintf(stdout, "it also owns %d organization(s) that had no member (applications made by `likeness app create`)\n", claimed)
	}
	if signIn == "" {
		fmt.Fprintf(stdout, "sign in at http://127.0.0.1:8080/console/signin once `likeness serve --data %s` runs (or at its --public-url)\n", *data)
		return nil
	}
	fmt.Fprintf(stdout, "sign in at %s\n", signIn)
	return nil
}

// readPassword reads the password from a file, or the first line of
// stdin; a trailing newline is not part of it.
func readPassword(file string, stdin io.Reader) (string, error) {
	var (
		b   []byte
		err error
	)
	if file != "" {
		b, err = os.ReadFile(file)
	} else {
		var line string
		line, err = bufio.NewReaderSize(io.LimitReader(stdin, 4096), 4096).ReadString('\n')
		if errors.Is(err, io.EOF) {
			err = nil
		}
		b = []byte(line)
	}
	if err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", usageError("the password is empty (give --password-file FILE or write it to standard input)")
	}
	return pw, nil
}
