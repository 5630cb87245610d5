// A nested type carries its own byte order; one on the field would be ignored.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Inner {
    a: u32,
}

#[derive(Wire)]
#[wire(le)]
struct Outer {
    #[wire(be)]
    inner: Inner,
}

fn main() {}
