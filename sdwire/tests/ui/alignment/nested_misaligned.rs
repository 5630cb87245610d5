// `Inner` has alignment 4 (it holds a u32); the derive cannot see that
// from the outer struct, so a const assert in the generated code catches
// it at compile time.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Inner {
    a: u32,
}

#[derive(Wire)]
struct Outer {
    kind: u8,
    inner: Inner,
}

fn main() {}
