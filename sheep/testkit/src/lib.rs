//! # sheep-testkit
//!
//! Support code shared by sheep's tests (never linked into the daemon or
//! `dog`): [`trace`] reads the golden `sdtrace v1` recordings of the C
//! sheepdog under `tests/data/traces/`.
#![warn(missing_docs)]

pub mod trace;
