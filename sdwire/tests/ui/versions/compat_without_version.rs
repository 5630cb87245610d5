// `compat` needs `version`.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, compat = 3)]
struct Info {
    flags: u32,
}

fn main() {}
