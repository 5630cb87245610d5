// A versioned struct: the sequential buffer path, fields added and removed
// across versions, defaults and an ignorable field.
use sdwire::Wire;

/// A node's identity.
#[derive(Wire, Debug, Clone, PartialEq, Default)]
#[wire(le, version = 0x0b, compat = 0x09)]
pub struct NodeId {
    pub addr: [u8; 16],
    #[wire(be)]
    pub port: u16,
    #[wire(until = 0x0a, default)]
    pub legacy_zone: u16,
    #[wire(since = 0x0a, default = 1)]
    pub nr_vnodes: u16,
    #[wire(since = 0x0b, default, ignorable)]
    pub io_port: u16,
}
