//! MongoDB Extended JSON as Python's `bson.json_util` writes and reads it. STUB.
