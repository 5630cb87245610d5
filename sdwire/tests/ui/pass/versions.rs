// Version bounds at the edges of the window, and variant `since` in an
// unversioned enum (allowed: the version comes from the caller).
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 5, compat = 2)]
struct Info {
    a: u32,
    #[wire(since = 5, default)]
    newest: u32,
    #[wire(until = 3, default)]
    gone_soon: u32,
    #[wire(since = 3, until = 5, default = 1)]
    window: u32,
}

#[derive(Wire)]
#[wire(tag = u8)]
enum Op {
    #[wire(opcode = 1)]
    Read,
    #[wire(opcode = 2, since = 2)]
    Trim,
}

fn main() {
    let _ = Info::LAYOUT;
    assert!(sdwire::to_vec(&Op::Trim, 1).is_err());
    assert!(sdwire::to_vec(&Op::Trim, 2).is_ok());
}
