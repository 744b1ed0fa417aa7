package policy

import (
	"encoding/json"
)

// AppendErrorBody appends the error body of API.md §3 for e to dst:
// {"status":"error","error":{"code":…,"message":…,"details":{…}},"request_id":…}.
// Both listeners use it, so every error looks the same.
func AppendErrorBody(dst []byte, e *APIError, requestID []byte) []byte {
	dst = append(dst, `{"status":"error","error":{"code":`...)
	dst = appendJSONString(dst, e.Code)
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, e.Message)
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err == nil {
			dst = append(dst, `,"details":`...)
			dst = append(dst, b...)
		}
	}
	dst = append(dst, `},"request_id":`...)
	dst = appendJSONString(dst, string(requestID))
	return append(dst, '}')
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // strings always marshal
	return append(dst, b...)
}
