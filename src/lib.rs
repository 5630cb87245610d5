//! Cross-crate test and example support for the sdwire workspace.
//!
//! This package exists so that the top-level `tests/` and `examples/`
//! directories are built by cargo; it is never published.
