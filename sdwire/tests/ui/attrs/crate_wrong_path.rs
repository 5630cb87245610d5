// A path that is not sdwire: rustc reports it at the `crate` string.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, crate = "::nonexistent")]
struct Info {
    flags: u32,
}

fn main() {}
