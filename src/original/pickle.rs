//! A pickle reader that executes nothing, and a protocol-2 writer. STUB.
