// Nothing close: list what is valid here.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Info {
    #[wire(frobnicate)]
    flags: u32,
}

fn main() {}
