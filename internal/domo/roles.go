package domo

import (
	"context"
	"fmt"
	"net/http"
)

const rolesPath = "/api/authorization/v1/roles"

// Role is one of the tenant's roles: the five system roles (ids 1 to 5) and custom ones.
type Role struct {
	ID          int64
	Name        string
	Description string
	UserCount   int64
}

// RefreshRoles lists the tenant's roles again through the authorization API.
func (in *Instance) RefreshRoles(ctx context.Context) ([]Role, error) {
	roles, err := in.fetchRoles(ctx)
	if err != nil {
		if _, ok := endpointRefusal(err); ok {
			return nil, in.classify(ctx, CapRoles, "roles.list", err, false)
		}
		if _, ok := missing(err); ok {
			return nil, in.classify(ctx, CapRoles, "roles.list", err, false)
		}
		return nil, fmt.Errorf("list roles: %w", err)
	}
	in.mu.Lock()
	in.roles = roles
	in.mu.Unlock()
	return roles, nil
}

func (in *Instance) fetchRoles(ctx context.Context) ([]Role, error) {
	res, err := in.c.do(ctx, call{op: "roles.list", method: http.MethodGet, path: rolesPath, idempotent: true})
	if err != nil {
		return nil, err
	}
	roles, err := decodeRoles(res.body)
	if err != nil {
		return nil, fmt.Errorf("domo roles.list: %w: %w", ErrUnavailable, err)
	}
	return roles, nil
}
