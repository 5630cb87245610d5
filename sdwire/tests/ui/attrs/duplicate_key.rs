// The same key twice in one attribute.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 3, compat = 1)]
struct Info {
    #[wire(since = 2, since = 3, default)]
    flags: u32,
}

fn main() {}
