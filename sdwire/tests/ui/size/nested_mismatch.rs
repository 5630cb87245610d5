// The size of a nested type is only known to the compiler: the check runs
// in a const, and the error is an array-length mismatch naming both sizes
// (expected = declared, found = actual).
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, size = 16)]
struct Inner {
    a: u64,
    b: u64,
}

#[derive(Wire)]
#[wire(le, size = 20)]
struct Outer {
    id: u64,
    inner: Inner,
}

fn main() {}
