//! Malformed input: errors, never panics.
