//! Router tests against an in-process backend.
