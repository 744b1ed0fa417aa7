package gateway

import "errors"

// bodyField reads one field of a request body without decoding the rest: the caller-ID field
// of a route (API.md §5, §9). A body whose first byte other than white space is '{' is read
// as a JSON object (as the management API reads bodies, whatever their content type);
// anything else as application/x-www-form-urlencoded. The field is found at the top level
// of the object only, by its exact name (a JSON name with escapes is compared unescaped; a
// form name percent- and '+'-decoded). Its value, decoded, is appended to dst.
//
// The rest of the body is scanned, not decoded, so that what the upstream will read is what
// was checked: a field given twice is refused (parsers differ on which one wins), and so is a
// JSON body that is not one well-formed object, or a value that is not a JSON string.
// It allocates nothing beyond growing dst.
func bodyField(body []byte, name string, dst []byte) ([]byte, error) {
	i := skipSpace(body, 0)
	if i < len(body) && body[i] == '{' {
		return jsonField(body, i, name, dst)
	}
	return formField(body, name, dst)
}

// The ways a body can fail bodyField; the gateway answers each 400 naming the field.
var (
	errFieldMissing   = errors.New("the body has no such field")
	errFieldTwice     = errors.New("the field is given twice")
	errFieldNotString = errors.New("the field must be a string")
	errBodyMalformed  = errors.New("the body is not a well-formed JSON object")
)

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// jsonField scans the object that starts at body[i] == '{'. The whole object is scanned
// before any answer but "malformed", so a malformed body is refused as such whatever else.
func jsonField(body []byte, i int, name string, dst []byte) ([]byte, error) {
	start := len(dst)
	seen, notString := 0, false
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return dst, fieldEnd(body, i+1, seen, notString)
	}
	for {
		if i >= len(body) || body[i] != '"' {
			return dst[:start], errBodyMalformed
		}
		end, match, ok := jsonKeyIs(body, i, name)
		if !ok {
			return dst[:start], errBodyMalformed
		}
		i = skipSpace(body, end)
		if i >= len(body) || body[i] != ':' {
			return dst[:start], errBodyMalformed
		}
		i = skipSpace(body, i+1)
		if match {
			seen++
		}
		if match && seen == 1 && i < len(body) && body[i] == '"' {
			if dst, i, ok = appendJSONString(dst, body, i); !ok {
				return dst[:start], errBodyMalformed
			}
		} else {
			notString = notString || match
			if i, ok = skipValue(body, i, 0); !ok {
				return dst[:start], errBodyMalformed
			}
		}
		i = skipSpace(body, i)
		if i < len(body) && body[i] == ',' {
			i = skipSpace(body, i+1)
			continue
		}
		if i < len(body) && body[i] == '}' {
			if err := fieldEnd(body, i+1, seen, notString); err != nil {
				return dst[:start], err
			}
			return dst, nil
		}
		return dst[:start], errBodyMalformed
	}
}

// fieldEnd checks that only white space follows the object, and that the field was there
// once, as a string.
func fieldEnd(body []byte, i int, seen int, notString bool) error {
	switch {
	case skipSpace(body, i) != len(body):
		return errBodyMalformed
	case seen == 0:
		return errFieldMissing
	case seen > 1:
		return errFieldTwice
	case notString:
		return errFieldNotString
	}
	return nil
}

// maxDepth bounds the nesting skipValue follows (deeper is refused as malformed).
const maxDepth = 64

// skipValue skips the JSON value at body[i]; it answers the index after it.
func skipValue(body []byte, i, depth int) (int, bool) {
	if i >= len(body) || depth > maxDepth {
		return i, false
	}
	switch c := body[i]; {
	case c == '"':
		return skipString(body, i)
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(body, i+1)
		if i < len(body) && body[i] == closer {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i >= len(body) || body[i] != '"' {
					return i, false
				}
				if i, ok = skipString(body, i); !ok {
					return i, false
				}
				i = skipSpace(body, i)
				if i >= len(body) || body[i] != ':' {
					return i, false
				}
				i = skipSpace(body, i+1)
			}
			if i, ok = skipValue(body, i, depth+1); !ok {
				return i, false
			}
			i = skipSpace(body, i)
			if i < len(body) && body[i] == ',' {
				i = skipSpace(body, i+1)
				continue
			}
			if i < len(body) && body[i] == closer {
				return i + 1, true
			}
			return i, false
		}
	case c == 't':
		return skipWord(body, i, "true")
	case c == 'f':
		return skipWord(body, i, "false")
	case c == 'n':
		return skipWord(body, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return skipNumber(body, i)
	}
	return i, false
}

func skipWord(body []byte, i int, w string) (int, bool) {
	if len(body)-i < len(w) || string(body[i:i+len(w)]) != w {
		return i, false
	}
	return i + len(w), true
}

// skipNumber skips a JSON number (RFC 8259 grammar).
func skipNumber(body []byte, i int) (int, bool) {
	if body[i] == '-' {
		i++
	}
	digits := func() bool {
		s := i
		for i < len(body) && body[i] >= '0' && body[i] <= '9' {
			i++
		}
		return i > s
	}
	if i < len(body) && body[i] == '0' {
		i++
	} else if !digits() {
		return i, false
	}
	if i < len(body) && body[i] == '.' {
		i++
		if !digits() {
			return i, false
		}
	}
	if i < len(body) && (body[i] == 'e' || body[i] == 'E') {
		i++
		if i < len(body) && (body[i] == '+' || body[i] == '-') {
			i++
		}
		if !digits() {
			return i, false
		}
	}
	return i, true
}

// skipString skips the JSON string at body[i] == '"', checking its escapes.
func skipString(body []byte, i int) (int, bool) {
	_, end, ok := scanString(body, i, nil, false)
	return end, ok
}

// jsonKeyIs reads the JSON string at body[i] == '"' and reports whether it is name.
func jsonKeyIs(body []byte, i int, name string) (end int, match, ok bool) {
	m := keyMatcher{name: name, ok: true}
	_, end, ok = scanString(body, i, &m, false)
	return end, ok && m.ok && m.n == len(name), ok
}

// appendJSONString appends the decoded JSON string at body[i] == '"' to dst.
func appendJSONString(dst, body []byte, i int) ([]byte, int, bool) {
	m := keyMatcher{dst: dst}
	_, end, ok := scanString(body, i, &m, true)
	return m.dst, end, ok
}

// keyMatcher receives a string's decoded bytes: it compares them with name, or (keep)
// appends them to dst.
type keyMatcher struct {
	name string
	n    int
	ok   bool
	dst  []byte
}

func (m *keyMatcher) put(b []byte, keep bool) {
	if keep {
		m.dst = append(m.dst, b...)
		return
	}
	if !m.ok {
		return
	}
	if m.n+len(b) > len(m.name) || m.name[m.n:m.n+len(b)] != string(b) {
		m.ok = false
		return
	}
	m.n += len(b)
}

// scanString walks the JSON string at body[i] == '"', giving its decoded bytes to m (when
// not nil); it answers the index after the closing quote.
func scanString(body []byte, i int, m *keyMatcher, keep bool) (int, int, bool) {
	i++
	var buf [4]byte
	for i < len(body) {
		c := body[i]
		switch {
		case c == '"':
			return 0, i + 1, true
		case c < 0x20:
			return 0, i, false
		case c != '\\':
			s := i
			for i < len(body) && body[i] != '"' && body[i] != '\\' && body[i] >= 0x20 {
				i++
			}
			if m != nil {
				m.put(body[s:i], keep)
			}
			continue
		}
		if i+1 >= len(body) {
			return 0, i, false
		}
		var dec []byte
		switch e := body[i+1]; e {
		case '"', '\\', '/':
			buf[0] = e
			dec = buf[:1]
		case 'b', 'f', 'n', 'r', 't':
			buf[0] = controlEscape(e)
			dec = buf[:1]
		case 'u':
			r, ok := hex4(body, i+2)
			if !ok {
				return 0, i, false
			}
			n := 6
			if r >= 0xD800 && r < 0xDC00 && i+12 <= len(body) && body[i+6] == '\\' && body[i+7] == 'u' {
				if lo, ok := hex4(body, i+8); ok && lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					n = 12
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				r = 0xFFFD // a lone surrogate, as encoding/json decodes it
			}
			dec = appendRune(buf[:0], r)
			i += n
			if m != nil {
				m.put(dec, keep)
			}
			continue
		default:
			return 0, i, false
		}
		if m != nil {
			m.put(dec, keep)
		}
		i += 2
	}
	return 0, i, false
}

// controlEscape is the byte of the JSON escape \e for e in "bfnrt".
func controlEscape(e byte) byte {
	switch e {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	}
	return '\t'
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// appendRune is utf8.AppendRune for the code points a \u escape makes.
func appendRune(b []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(b, byte(r))
	case r < 0x800:
		return append(b, 0xC0|byte(r>>6), 0x80|byte(r)&0x3F)
	case r < 0x10000:
		return append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	}
	return append(b, 0xF0|byte(r>>18), 0x80|byte(r>>12)&0x3F, 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
}

// formField finds name in an application/x-www-form-urlencoded body.
func formField(body []byte, name string, dst []byte) ([]byte, error) {
	start := len(dst)
	found := false
	for len(body) > 0 {
		pair := body
		if j := indexByte(body, '&'); j >= 0 {
			pair, body = body[:j], body[j+1:]
		} else {
			body = nil
		}
		key, val := pair, []byte(nil)
		if j := indexByte(pair, '='); j >= 0 {
			key, val = pair[:j], pair[j+1:]
		}
		if !formKeyIs(key, name) {
			continue
		}
		if found {
			return dst[:start], errFieldTwice
		}
		found = true
		var ok bool
		if dst, ok = appendFormDecoded(dst, val); !ok {
			return dst[:start], errBodyMalformed
		}
	}
	if !found {
		return dst[:start], errFieldMissing
	}
	return dst, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// formKeyIs reports whether the form-encoded key decodes to name (a malformed escape never
// matches).
func formKeyIs(key []byte, name string) bool {
	n := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(key) {
				return false
			}
			h, ok := unhex(key[i+1], key[i+2])
			if !ok {
				return false
			}
			c, i = h, i+2
		}
		if n >= len(name) || name[n] != c {
			return false
		}
		n++
	}
	return n == len(name)
}

// appendFormDecoded appends the decoded form value v to dst; false for a malformed escape.
func appendFormDecoded(dst, v []byte) ([]byte, bool) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(v) {
				return dst, false
			}
			h, ok := unhex(v[i+1], v[i+2])
			if !ok {
				return dst, false
			}
			c, i = h, i+2
		}
		dst = append(dst, c)
	}
	return dst, true
}

func unhex(a, b byte) (byte, bool) {
	x, ok1 := hexVal(a)
	y, ok2 := hexVal(b)
	return x<<4 | y, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
