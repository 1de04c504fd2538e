package bridge

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
)

// Waits a client is told when Domo keeps failing, and when Domo refuses the bridge's
// credentials (which takes an operator).
const (
	unavailableRetry = 30 * time.Second
	credentialsRetry = 5 * time.Minute
)

// upstream translates a Domo or mapping error into the SCIM vocabulary. kind and id name the
// resource for 404s. Errors that are already SCIM errors pass through.
func upstream(err error, kind, id string) error {
	if err == nil {
		return nil
	}
	var se *scim.Error
	if errors.As(err, &se) {
		return err
	}
	var ve *mapping.ValueError
	if errors.As(err, &ve) {
		return &scim.Error{Status: http.StatusBadRequest, Type: scim.TypeInvalidValue, Detail: ve.Error(), Err: err}
	}
	var rl *domo.RateLimitError
	if errors.As(err, &rl) {
		return scim.Throttled(rl.RetryAfter, err)
	}
	switch {
	case errors.Is(err, domo.ErrNotFound):
		return &scim.Error{Status: http.StatusNotFound, Detail: kind + " " + strconv.Quote(id) + " not found", Err: err}
	case errors.Is(err, domo.ErrConflict):
		return &scim.Error{Status: http.StatusConflict, Type: scim.TypeUniqueness, Detail: "Domo already has a " + strings.ToLower(kind) + " with that identity", Err: err}
	case errors.Is(err, domo.ErrUnauthorized):
		// The IdP did nothing wrong and its request is fine: it should come back once the
		// operator has fixed the credentials, not count the user as failed for good.
		return scim.Unavailable(credentialsRetry, "Domo refused the bridge's credentials; the operator must check them", err)
	case errors.Is(err, domo.ErrUnavailable):
		return scim.Unavailable(unavailableRetry, "Domo is unavailable; retry later", err)
	case errors.Is(err, context.DeadlineExceeded):
		return scim.Unavailable(unavailableRetry, "Domo did not answer in time; retry later", err)
	}
	var ae *domo.APIError
	if errors.As(err, &ae) {
		if ae.Status == http.StatusBadRequest {
			msg := ae.Message
			if msg == "" {
				msg = "bad request"
			}
			return &scim.Error{Status: http.StatusBadRequest, Type: scim.TypeInvalidValue, Detail: "Domo rejected the change: " + msg, Err: err}
		}
		return &scim.Error{Status: http.StatusBadGateway, Detail: "unexpected answer from Domo (status " + strconv.Itoa(ae.Status) + ")", Err: err}
	}
	return err
}

// parseID turns a SCIM id into a Domo id. Only the canonical decimal form of a positive int64
// is an id the bridge ever issued; anything else (leading zeros, signs, 30 digits) cannot name
// a resource, so it is a 404 without asking Domo.
func parseID(kind, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != s {
		return 0, scim.NotFound(kind, s)
	}
	return n, nil
}
