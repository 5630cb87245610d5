// The unknown-bit policy is one of three.
sdwire::bitflags::bitflags! {
    pub struct Flags: u16 {
        const A = 1;
    }
}
sdwire::wire_flags!(Flags, be, unknown = ignore);

fn main() {}
