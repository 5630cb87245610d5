// A default on a field that is always present is never used.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Info {
    #[wire(default = 7)]
    copies: u32,
}

fn main() {}
