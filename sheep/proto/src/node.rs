//! Node identities: `node_id` (40 B) and `sd_node` (80 B) (docs/sheepdog-facts.md §11.2).

use sdwire::Wire;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Converts an IP address to the 16-byte sheepdog form: IPv6 bytes, or 12
/// zero bytes followed by the IPv4 address (no `::ffff:` prefix).
pub fn addr_to_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => {
            let mut b = [0u8; 16];
            b[12..].copy_from_slice(&v4.octets());
            b
        }
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Converts the 16-byte sheepdog address form back: 12 zero bytes + 4 bytes
/// is IPv4, anything else IPv6.
pub fn addr_from_bytes(b: &[u8; 16]) -> IpAddr {
    if b[..12].iter().all(|&x| x == 0) {
        IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15]))
    } else {
        IpAddr::V6(Ipv6Addr::from(*b))
    }
}

/// A node's network identity, `struct node_id`.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 16 | addr (IPv6, or 12 zero bytes + IPv4) |
/// | 16 | 2 | port (LE) |
/// | 18 | 16 | io_addr (separate I/O NIC; zero if unused) |
/// | 34 | 2 | io_port |
/// | 36 | 4 | reserved (`pad`) |
///
/// Identity and sort order come from `addr` then `port`; `io_addr` is
/// ignored for identity and hashing.
#[derive(Wire, Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
#[wire(le, size = 40)]
pub struct NodeId {
    /// Address.
    pub addr: [u8; 16],
    /// Port.
    pub port: u16,
    /// I/O address (zero if unused).
    pub io_addr: [u8; 16],
    /// I/O port.
    pub io_port: u16,
    /// Padding.
    #[wire(reserved)]
    pub _pad: [u8; 4],
}

impl NodeId {
    /// A node id for `sa` with no separate I/O address.
    pub fn new(sa: SocketAddr) -> NodeId {
        NodeId {
            addr: addr_to_bytes(sa.ip()),
            port: sa.port(),
            ..NodeId::default()
        }
    }

    /// The main address.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(addr_from_bytes(&self.addr), self.port)
    }

    /// The I/O address, if one is set.
    pub fn io_socket_addr(&self) -> Option<SocketAddr> {
        if self.io_addr == [0; 16] && self.io_port == 0 {
            None
        } else {
            Some(SocketAddr::new(
                addr_from_bytes(&self.io_addr),
                self.io_port,
            ))
        }
    }

    /// The default zone: address bytes 12..16 read as a LE u32.
    pub fn default_zone(&self) -> u32 {
        u32::from_le_bytes([self.addr[12], self.addr[13], self.addr[14], self.addr[15]])
    }

    /// The identity key (addr, port) that orders and identifies nodes.
    pub fn key(&self) -> ([u8; 16], u16) {
        (self.addr, self.port)
    }
}

/// A cluster member, `struct sd_node` (the standard build, not diskvnodes).
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 24 | reserved: the sender's rb_node pointers (garbage on the wire) |
/// | 24 | 40 | nid ([`NodeId`]) |
/// | 64 | 2 | nr_vnodes |
/// | 66 | 2 | reserved (padding) |
/// | 68 | 4 | zone |
/// | 72 | 8 | space (store capacity in bytes; 0 = gateway-only) |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
#[wire(le, size = 80)]
pub struct SdNode {
    /// Three host pointers of the sender's red-black tree: not data.
    #[wire(reserved)]
    pub _rb: [u8; 24],
    /// The node's identity.
    pub nid: NodeId,
    /// Number of virtual nodes on the hash ring.
    pub nr_vnodes: u16,
    /// Padding.
    #[wire(reserved)]
    pub _pad: [u8; 2],
    /// Failure zone.
    pub zone: u32,
    /// Store capacity in bytes.
    pub space: u64,
}

impl SdNode {
    /// Size on the wire.
    pub const SIZE: usize = 80;
    /// Byte ranges of an encoded `sd_node` that carry no data (rb pointers, padding).
    pub const DONT_CARE: [core::ops::Range<usize>; 2] = [0..24, 66..68];

    /// A node at `sa` with the default zone, `nr_vnodes` and `space`.
    pub fn new(sa: SocketAddr, nr_vnodes: u16, space: u64) -> SdNode {
        let nid = NodeId::new(sa);
        SdNode {
            nid,
            nr_vnodes,
            zone: nid.default_zone(),
            space,
            ..SdNode::default()
        }
    }

    /// The main address.
    pub fn socket_addr(&self) -> SocketAddr {
        self.nid.socket_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(NodeId::FIXED_SIZE, Some(40));
        assert_eq!(SdNode::FIXED_SIZE, Some(80));
        assert_eq!(SdNode::LAYOUT.field("nid").unwrap().offset, Some(24));
        assert_eq!(SdNode::LAYOUT.field("space").unwrap().offset, Some(72));
    }

    #[test]
    fn addrs() {
        let sa: SocketAddr = "127.0.0.1:7001".parse().unwrap();
        let n = SdNode::new(sa, 128, 1 << 30);
        assert_eq!(n.socket_addr(), sa);
        assert_eq!(n.zone, 0x0100_007f);
        let b = sdwire::to_vec(&n, 0).unwrap();
        assert_eq!(
            &b[24..44],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 127, 0, 0, 1, 0x59, 0x1b, 0, 0]
        );
        assert_eq!(sdwire::from_slice::<SdNode>(&b, 0).unwrap(), n);
        let v6: SocketAddr = "[fe80::1]:7000".parse().unwrap();
        assert_eq!(NodeId::new(v6).socket_addr(), v6);
        assert_eq!(NodeId::new(sa).io_socket_addr(), None);
    }
}
