// A repeated flag is an error too (it usually hides a typo).
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, le)]
struct Info {
    flags: u32,
}

fn main() {}
