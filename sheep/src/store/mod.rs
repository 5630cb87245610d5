//! The local object store.
