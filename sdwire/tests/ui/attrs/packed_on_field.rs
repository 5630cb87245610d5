// `packed` belongs to structs.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Info {
    #[wire(packed)]
    flags: u32,
}

fn main() {}
