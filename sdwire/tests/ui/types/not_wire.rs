// A nested type that does not derive `Wire`.
use sdwire::Wire;

struct Inner {
    a: u32,
}

#[derive(Wire)]
#[wire(le)]
struct Msg {
    inner: Inner,
}

fn main() {}
