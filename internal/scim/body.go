package scim

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

// readBody reads a request body whole. A body the client did not finish sending is the
// client's fault, answered and counted as such: 400 when it ended before its Content-Length
// (or the connection dropped mid-body), 408 when it stalled past the server's read timeout;
// 413 when it is larger than the limit (limitBody).
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	if err == nil {
		return b, nil
	}
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Type: TypeInvalidSyntax,
			Detail: fmt.Sprintf("request body is larger than %d bytes", mbe.Limit), Err: err}
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return nil, &Error{Status: http.StatusRequestTimeout, Detail: "the request body was not received in time", Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, &Error{Status: http.StatusBadRequest, Type: TypeInvalidSyntax,
			Detail: fmt.Sprintf("the request body ended after %d of its %d bytes (Content-Length)", len(b), r.ContentLength), Err: err}
	}
	return nil, &Error{Status: http.StatusBadRequest, Type: TypeInvalidSyntax, Detail: "the request body could not be read", Err: err}
}
