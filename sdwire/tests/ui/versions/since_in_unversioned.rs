// `since` in a struct that has no versions.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Info {
    a: u32,
    #[wire(since = 2, default)]
    b: u32,
}

fn main() {}
