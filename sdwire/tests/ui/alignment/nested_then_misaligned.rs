// Both layout paths in one struct: `inner` is only known to the compiler,
// so it and the fields after it are checked in consts, with the same rules
// and messages.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Inner {
    a: u32,
}

#[derive(Wire)]
#[wire(le)]
struct Outer {
    kind: u8,
    #[wire(pad = 1)]
    inner: Inner,
    flag: u8,
    oid: u64,
}

fn main() {}
