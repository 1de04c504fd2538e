package domosim

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNoSuchUser is returned by the direct (admin) operations for an unknown or deleted user.
var ErrNoSuchUser = errors.New("domosim: no such user")

// AddUser inserts a user directly, as an admin would in Domo's UI: no API call is counted and no
// validation beyond what keeps the state consistent. Zero ID, CreatedAt and RoleID are filled
// in. It returns the user's id, or 0 when the email is already taken by a live user.
func (s *Sim) AddUser(u SimUser) int64 {
	now := s.Options().Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.emails[strings.ToLower(u.Email)]; taken && !u.Deleted {
		return 0
	}
	if u.ID != 0 {
		if _, exists := s.users[u.ID]; exists {
			return 0
		}
	}
	if u.Role == "" && u.RoleID == 0 {
		u.Role, u.RoleID = "Participant", 4
	}
	id := s.insertUserLocked(u, now)
	s.users[id].visibleAt = time.Time{}
	return id
}

// EditUser changes a user behind the bridge's back, as an admin in Domo's UI would, and bumps
// updatedAt. Changing Deleted is not allowed here; use DeleteUserDirect.
func (s *Sim) EditUser(id int64, fn func(*SimUser)) error {
	now := s.Options().Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok || u.Deleted {
		return fmt.Errorf("edit user %d: %w", id, ErrNoSuchUser)
	}
	next := u.SimUser
	fn(&next)
	next.ID, next.Deleted, next.CreatedAt = u.ID, false, u.CreatedAt
	oldKey, newKey := strings.ToLower(u.Email), strings.ToLower(next.Email)
	if other, taken := s.emails[newKey]; taken && other != id {
		return fmt.Errorf("edit user %d: email already taken", id)
	}
	if next.UpdatedAt.Equal(u.UpdatedAt) {
		next.UpdatedAt = now
	}
	u.SimUser = next
	if oldKey != newKey {
		delete(s.emails, oldKey)
		s.emails[newKey] = id
	}
	return nil
}

// Attributes returns a user's customer-defined identity attributes (a copy), by key.
func (s *Sim) Attributes(id int64) map[string][]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[id]
	if !ok {
		return nil
	}
	out := make(map[string][]string, len(u.attrs))
	for k, v := range u.attrs {
		out[k] = slices.Clone(v)
	}
	return out
}

// SetAttributes replaces a user's customer-defined identity attributes, as an admin editing
// the user's profile in Domo would.
func (s *Sim) SetAttributes(id int64, attrs map[string][]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok || u.Deleted {
		return fmt.Errorf("set attributes of user %d: %w", id, ErrNoSuchUser)
	}
	next := make(map[string][]string, len(attrs))
	for k, v := range attrs {
		next[k] = slices.Clone(v)
	}
	u.attrs = next
	return nil
}

// DeleteUserDirect deletes a user as an admin would in Domo's UI.
func (s *Sim) DeleteUserDirect(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok || u.Deleted {
		return fmt.Errorf("delete user %d: %w", id, ErrNoSuchUser)
	}
	s.deleteUserLocked(u, s.opts.Now().UTC())
	return nil
}

// SetUserOwnsContent marks a user as owning DataSets or DataFlows, which makes DELETE fail 400.
func (s *Sim) SetUserOwnsContent(id int64, owns bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[id]; ok {
		u.OwnsContent = owns
	}
}

// User returns one user record, deleted ones included.
func (s *Sim) User(id int64) (SimUser, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[id]
	if !ok {
		return SimUser{}, false
	}
	return u.SimUser, true
}

// Users returns the non-deleted users in insertion order.
func (s *Sim) Users() []SimUser {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]SimUser, len(s.live))
	for i, u := range s.live {
		out[i] = u.SimUser
	}
	return out
}

// UserByEmail finds a non-deleted user by email, case-insensitively.
func (s *Sim) UserByEmail(email string) (SimUser, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.emails[strings.ToLower(email)]
	if !ok {
		return SimUser{}, false
	}
	return s.users[id].SimUser, true
}

// AddGroup creates a group directly (as an admin would) and returns its id, or 0 when a live
// group already has the name.
func (s *Sim) AddGroup(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nameTakenLocked(name, 0, s.opts.GroupNamesFoldCase) {
		return 0
	}
	return s.insertGroupLocked(name, false, s.ownerID, s.opts.Now())
}

// AddMemberDirect puts a user in a group directly, as an admin would.
func (s *Sim) AddMemberDirect(groupID, userID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[groupID]
	if !ok || g.Deleted {
		return fmt.Errorf("add member to group %d: no such group", groupID)
	}
	if u, ok := s.users[userID]; !ok || u.Deleted {
		return fmt.Errorf("add user %d to group %d: %w", userID, groupID, ErrNoSuchUser)
	}
	g.add(userID)
	return nil
}

// GroupsSnapshot returns every group, deleted ones included, in creation order, with members.
func (s *Sim) GroupsSnapshot() []SimGroup {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]SimGroup, 0, len(s.groupOrder))
	for _, g := range s.groupOrder {
		c := g.SimGroup
		c.Members = slices.Clone(g.Members)
		out = append(out, c)
	}
	return out
}

// Members returns a group's member ids in insertion order.
func (s *Sim) Members(groupID int64) []int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if g, ok := s.groups[groupID]; ok {
		return slices.Clone(g.Members)
	}
	return nil
}

// DefaultGroupID is the id of the seeded Default group.
func (s *Sim) DefaultGroupID() int64 { return s.defaultGID }

// OwnerID is the id of the Admin user who owns the API client (the token's userId).
func (s *Sim) OwnerID() int64 { return s.ownerID }

// Invites returns the invite outbox: every user created with sendInvite=true.
func (s *Sim) Invites() []Invite {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.invites)
}

var (
	firstNames = strings.Fields("Olivia Liam Emma Noah Amelia Oliver Ava Elijah Sophia James Isabella William Mia Benjamin Charlotte Lucas Harper Henry Evelyn Theodore Luna Jack Camila Levi Gianna Alexander Abigail Jackson Ella Mateo Elizabeth Daniel Sofia Michael Avery Mason Scarlett Sebastian Emily Ethan Aria Logan Penelope Owen Chloe Samuel Layla Jacob Mila Asher Nora Aiden Hazel John Madison Joseph Ellie Wyatt Lily David Nova Leo Isla Luke Grace Julian Violet Hudson Aurora Grayson Riley Matthew Zoey Ezra Willow Gabriel Emilia Carter Stella Isaac Zoe Jayden Victoria Luca Hannah Anthony Addison Dylan Leah Lincoln Lucy Thomas Eliana Maverick Ivy Elias Everly Josiah Lillian Charles Paisley")
	lastNames  = strings.Fields("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster")
	titles     = []string{"Analyst", "Senior Analyst", "Engineer", "Senior Engineer", "Manager", "Director", "Account Executive", "Designer", "Product Manager", "Data Scientist", "Support Specialist", "VP"}
	depts      = []string{"Sales", "Marketing", "Engineering", "Finance", "Operations", "Support", "Product", "People", "Legal", "Data"}
	locations  = []string{"Salt Lake City, UT, USA", "American Fork, UT, USA", "New York, NY, USA", "London, UK", "Tokyo, Japan", "Sydney, Australia", "Berlin, Germany", "Austin, TX, USA"}
	seedRoles  = []Role{{4, "Participant"}, {4, "Participant"}, {4, "Participant"}, {2, "Privileged"}, {3, "Editor"}, {5, "Social"}}
)

// SeedUsers adds n realistic users directly (no API calls counted) and returns their ids in
// insertion order. Every user joins the default groups, as a new Domo user does.
func (s *Sim) SeedUsers(n int) []int64 {
	opts := s.Options()
	now := opts.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, n)
	start := now.Add(-time.Duration(n) * time.Minute)
	seq := len(s.users)
	for i := 0; i < n; i++ {
		seq++
		fi, li := int(s.randInt64(0, int64(len(firstNames)))), int(s.randInt64(0, int64(len(lastNames))))
		first, last := firstNames[fi], lastNames[li]
		base := strings.ToLower(first) + "." + strings.ToLower(last)
		email := base + "@" + opts.Customer + ".example"
		for k := 2; ; k++ {
			if _, taken := s.emails[email]; !taken {
				break
			}
			email = base + strconv.Itoa(seq) + strconv.Itoa(k) + "@" + opts.Customer + ".example"
		}
		role := seedRoles[seq%len(seedRoles)]
		at := start.Add(time.Duration(i) * time.Minute)
		u := SimUser{
			Name: first + " " + last, Email: email, Role: role.Name, RoleID: role.ID,
			Title: titles[seq%len(titles)], Department: depts[(seq/3)%len(depts)],
			Location:       locations[(seq/7)%len(locations)],
			Phone:          fmt.Sprintf("+1 801 555 %04d", seq%10000),
			EmployeeNumber: int64(10000 + seq), CreatedAt: at, UpdatedAt: at,
		}
		if seq%5 == 0 {
			u.Timezone, u.Locale = "America/Denver", "en-US"
		}
		id := s.insertUserLocked(u, now)
		s.users[id].visibleAt = time.Time{}
		ids = append(ids, id)
	}
	return ids
}
