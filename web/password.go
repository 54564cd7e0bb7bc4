package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
)

// Password rules.
const (
	MinPasswordLen = 12  // characters
	MaxPasswordLen = 256 // bytes: argon2 reads it all
)

// PasswordParams are argon2id's cost parameters.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultPasswordParams are OWASP's minimum for argon2id (19 MiB, 2 passes,
// 1 thread).
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{Memory: 19 * 1024, Time: 2, Threads: 1}
}

const (
	saltLen = 16
	keyLen  = 32
)

// HashPassword returns the argon2id hash of password in the PHC string
// format: $argon2id$v=19$m=…,t=…,p=…$salt$hash (unpadded standard base64).
func HashPassword(password string, p PasswordParams) (string, error) {
	if p == (PasswordParams{}) {
		p = DefaultPasswordParams()
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	enc := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		enc(salt), enc(sum)), nil
}

var errBadHash = errors.New("web: not an argon2id PHC hash")

// CheckPassword reports whether password matches a hash made by
// HashPassword (with any parameters). The hashes are compared in constant
// time.
func CheckPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, errBadHash
	}
	var p PasswordParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		p.Memory < 8 || p.Memory > 1<<21 || p.Time < 1 || p.Time > 32 || p.Threads < 1 {
		return false, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(want) < 16 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// CheckNewPassword returns EINVALID, with a message for the person, for a
// password that is too short or too long.
func CheckNewPassword(password string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return likeness.Errorf(likeness.EINVALID, "Choose a password of at least %d characters.", MinPasswordLen)
	case len(password) > MaxPasswordLen:
		return likeness.Errorf(likeness.EINVALID, "Choose a password of at most %d bytes.", MaxPasswordLen)
	case !utf8.ValidString(password):
		return likeness.Errorf(likeness.EINVALID, "The password is not valid text.")
	case commonPassword(password):
		return likeness.Errorf(likeness.EINVALID, "This password is among the most common ones and is guessed first. Choose another.")
	}
	return nil
}

// commonPasswords is the list in common-passwords.txt: one lower-case
// password a line, # comments.
//
//go:embed common-passwords.txt
var commonPasswords string

// commonPassword reports whether password is common (case aside): a listed
// one, a listed one followed by digits or symbols only ("password1234!"), or
// a listed one repeated ("passwordpassword").
func commonPassword(password string) bool {
	p := strings.ToLower(password)
	noLetters := func(s string) bool { return strings.IndexFunc(s, unicode.IsLetter) < 0 }
	base := strings.TrimRightFunc(p, func(r rune) bool { return !unicode.IsLetter(r) })
	for line := range strings.Lines(commonPasswords) {
		w := strings.TrimSpace(line)
		if w == "" || w[0] == '#' {
			continue
		}
		if strings.HasPrefix(p, w) && noLetters(p[len(w):]) {
			return true
		}
		if base != "" && len(base)%len(w) == 0 && strings.Repeat(w, len(base)/len(w)) == base {
			return true
		}
	}
	return false
}

// passwords hashes and checks passwords in the shared hashing pool: each
// argon2id run takes Memory KiB, so a burst of sign-ins cannot exhaust
// memory; past the pool's wait the reply is 503.
type passwords struct {
	params PasswordParams
	pool   *crypt.Pool
	dummy  string // checked for unknown accounts, so they take as long
}

func newPasswords(p PasswordParams, pool *crypt.Pool) (*passwords, error) {
	if p == (PasswordParams{}) {
		p = DefaultPasswordParams()
	}
	dummy, err := HashPassword("likeness: no such account", p)
	if err != nil {
		return nil, err
	}
	return &passwords{params: p, pool: pool, dummy: dummy}, nil
}

func (pw *passwords) hash(ctx context.Context, password string) (hash string, err error) {
	if perr := pw.pool.Do(ctx, func() { hash, err = HashPassword(password, pw.params) }); perr != nil {
		return "", perr
	}
	return hash, err
}

// check compares password with hash, or with a dummy hash when hash is ""
// (an unknown account), so both take the same time.
func (pw *passwords) check(ctx context.Context, hash, password string) (ok bool, err error) {
	if len(password) > MaxPasswordLen {
		return false, nil
	}
	perr := pw.pool.Do(ctx, func() {
		if hash == "" {
			_, _ = CheckPassword(pw.dummy, password)
			return
		}
		ok, err = CheckPassword(hash, password)
	})
	if perr != nil {
		return false, perr
	}
	return ok, err
}
