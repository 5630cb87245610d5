//! The VDI op handlers: NEW_VDI (create, snapshot, clone), lookups,
//! locks ([`lock`]), deletion ([`ops`]) and attributes ([`attr`]), over
//! the VDI table of [`crate::objects`].

pub mod attr;
pub mod lock;
pub mod ops;

pub(crate) use crate::objects::vdis::{
    encode_header, header_field_offset, new_inode_header, VdiMeta,
};
