// `pad` is a byte count.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Info {
    a: u8,
    #[wire(pad = -1)]
    b: u8,
}

fn main() {}
