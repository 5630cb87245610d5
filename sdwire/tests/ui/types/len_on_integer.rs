// `len` on a field that is not a payload.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    n: u32,
    #[wire(len = n)]
    m: u32,
}

fn main() {}
