//! Every sheepdog on-wire structure, defined with `#[derive(Wire)]`.

pub mod oid;
