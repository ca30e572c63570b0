package models

import (
	"errors"
	"sort"
	"strings"
)

// ErrNotFound is returned when a record asked for by its key does not exist
// (or is not public).
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write collides with an existing record or a
// newer version of the same record.
var ErrConflict = errors.New("conflict")

// ValidationError reports bad input, field by field, in Chinese messages that
// can be shown next to the form field they concern.
type ValidationError struct {
	Fields map[string]string
}

// Error lists the failing fields; it is for logs, never for users.
func (e *ValidationError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	return "invalid input: " + strings.Join(names, ", ")
}

// Field returns the message for one field, or "".
func (e *ValidationError) Field(name string) string {
	if e == nil {
		return ""
	}
	return e.Fields[name]
}

// AsValidationError returns the ValidationError inside err, if there is one.
func AsValidationError(err error) (*ValidationError, bool) {
	var v *ValidationError
	ok := errors.As(err, &v)
	return v, ok
}
