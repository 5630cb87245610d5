// The default expression is type-checked against the field by rustc, at
// the default expression.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 2, compat = 1)]
struct Info {
    a: u32,
    #[wire(since = 2, default = "none")]
    b: u32,
}

fn main() {}
