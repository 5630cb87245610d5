// Trailing padding that only the compiler can see: `Inner` is 8 bytes
// with alignment 8, then one byte.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Inner {
    a: u64,
}

#[derive(Wire)]
struct Outer {
    inner: Inner,
    flag: u8,
}

fn main() {}
