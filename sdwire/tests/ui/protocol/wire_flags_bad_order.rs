// A flags word has a byte order.
sdwire::bitflags::bitflags! {
    pub struct Flags: u16 {
        const A = 1;
    }
}
sdwire::wire_flags!(Flags, network, unknown = reject);

fn main() {}
