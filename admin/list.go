package admin

import (
	"net/url"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// Paging of lists (API.md §4): limit (default 20, 1 to 100), offset (≥ 0), and the filters
// status and name (exact). Lists are newest first; the order is the store's (created time,
// ties by id), so paging a list that does not change meanwhile has neither gaps nor
// duplicates.
const (
	defaultLimit = 20
	maxLimit     = 100
)

type page struct {
	limit, offset int
	status, name  string
	hasStatus     bool
	hasName       bool
	extra         url.Values // other query parameters the page links keep
}

// listMeta is the "meta" of a list answer (API.md §4); like accountJSON it is a plain
// struct of the contract's fields, alike in shape only.
type listMeta struct {
	Limit      int     `json:"limit"`
	Offset     int     `json:"offset"`
	TotalCount int     `json:"total_count"`
	Next       *string `json:"next"`
	Previous   *string `json:"previous"`
}

type listJSON struct {
	Meta    listMeta `json:"meta"`
	Objects []any    `json:"objects"`
}

func parsePage(q *fasthttp.Args) (page, error) {
	p := page{limit: defaultLimit}
	if v := q.Peek("limit"); q.Has("limit") {
		n, err := parseQueryInt("limit", v, 1, maxLimit)
		if err != nil {
			return p, err
		}
		p.limit = n
	}
	if v := q.Peek("offset"); q.Has("offset") {
		n, err := parseQueryInt("offset", v, 0, 1<<31-1)
		if err != nil {
			return p, err
		}
		p.offset = n
	}
	if q.Has("status") {
		p.status, p.hasStatus = string(q.Peek("status")), true
		switch p.status {
		case model.StatusActive, model.StatusSuspended, model.StatusClosed:
		default:
			return p, policy.Invalid("status", "must be active, suspended or closed")
		}
	}
	if q.Has("name") {
		p.name, p.hasName = string(q.Peek("name")), true
	}
	return p, nil
}

func parseQueryInt(field string, v []byte, min, max int64) (int, error) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, policy.Invalid(field, "must be an integer")
	}
	if n < min || n > max {
		return 0, policy.Invalid(field, "must be between "+strconv.FormatInt(min, 10)+" and "+strconv.FormatInt(max, 10))
	}
	return int(n), nil
}

// filter keeps the accounts that match p's filters.
func (p page) filter(all []*model.Account) []*model.Account {
	out := all[:0:0]
	for _, a := range all {
		if (p.hasStatus && a.Status != p.status) || (p.hasName && a.Name != p.name) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// window returns p's slice of all.
func (p page) window(all []*model.Account) []*model.Account {
	if p.offset >= len(all) {
		return nil
	}
	end := min(p.offset+p.limit, len(all))
	return all[p.offset:end]
}

// meta builds the list's meta; next and previous are the URIs of the neighbouring pages
// under base, keeping the filters, or null.
func (p page) meta(base string, total int) listMeta {
	m := listMeta{Limit: p.limit, Offset: p.offset, TotalCount: total}
	if p.offset+p.limit < total {
		s := p.uri(base, p.offset+p.limit)
		m.Next = &s
	}
	if p.offset > 0 {
		s := p.uri(base, max(p.offset-p.limit, 0))
		m.Previous = &s
	}
	return m
}

func (p page) uri(base string, offset int) string {
	q := url.Values{}
	q.Set("limit", strconv.Itoa(p.limit))
	q.Set("offset", strconv.Itoa(offset))
	if p.hasStatus {
		q.Set("status", p.status)
	}
	if p.hasName {
		q.Set("name", p.name)
	}
	for k, v := range p.extra {
		q[k] = v
	}
	return base + "?" + q.Encode()
}

// missing returns the ids in ids that have no record in got.
func missing(ids []string, got []*model.Account) []string {
	if len(ids) == len(got) {
		return nil
	}
	have := make(map[string]bool, len(got))
	for _, a := range got {
		have[a.ID] = true
	}
	var out []string
	for _, id := range ids {
		if !have[id] {
			out = append(out, id)
		}
	}
	return out
}
