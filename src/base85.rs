//! Python's `base64.b85encode` / `b85decode` (RFC 1924 alphabet). STUB.
