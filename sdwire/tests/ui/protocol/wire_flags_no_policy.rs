// The macro says what it takes.
sdwire::bitflags::bitflags! {
    pub struct Flags: u16 {
        const A = 1;
    }
}
sdwire::wire_flags!(Flags, be);

fn main() {}
