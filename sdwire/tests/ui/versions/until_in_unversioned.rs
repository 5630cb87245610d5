// `until` in a struct that has no versions.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Info {
    #[wire(until = 2, default)]
    legacy: u32,
}

fn main() {}
