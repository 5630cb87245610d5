// ...nor on a bool.
use sdwire::Wire;

#[derive(Wire)]
struct Flags {
    #[wire(le)]
    direct: bool,
}

fn main() {}
