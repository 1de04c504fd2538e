package domo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
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

// decodeRoles reads a list of roles, bare or wrapped in {"roles":[…]}; ids may be strings.
func decodeRoles(b []byte) ([]Role, error) {
	b = bytes.TrimSpace(b)
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		var wrap struct {
			Roles []json.RawMessage `json:"roles"`
		}
		if json.Unmarshal(b, &wrap) != nil || wrap.Roles == nil {
			return nil, fmt.Errorf("roles answer is not a JSON list: %w", err)
		}
		raws = wrap.Roles
	}
	out := make([]Role, 0, len(raws))
	for _, raw := range raws {
		var w struct {
			ID          Int    `json:"id"`
			Name        string `json:"name"`
			Description string `json:"description"`
			UserCount   Int    `json:"userCount"`
		}
		if json.Unmarshal(raw, &w) != nil || w.ID <= 0 || strings.TrimSpace(w.Name) == "" {
			continue
		}
		out = append(out, Role{ID: int64(w.ID), Name: strings.TrimSpace(w.Name), Description: w.Description, UserCount: int64(w.UserCount)})
	}
	return out, nil
}
