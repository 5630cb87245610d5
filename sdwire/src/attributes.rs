//! # The attribute reference
#![doc = include_str!("../doc/attributes.md")]
