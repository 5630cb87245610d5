// `Box` only wraps arrays of numbers.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Inner {
    a: u32,
}

#[derive(Wire)]
#[wire(le)]
struct Msg {
    inner: Box<Inner>,
}

fn main() {}
