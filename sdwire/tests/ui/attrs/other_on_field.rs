// `other` belongs to enum variants.
use sdwire::Wire;

#[derive(Wire)]
struct Info {
    #[wire(other)]
    flags: u8,
}

fn main() {}
