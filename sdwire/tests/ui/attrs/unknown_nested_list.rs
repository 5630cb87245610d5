// An unknown key with a list value is skipped whole, and parsing goes on
// to report the next problem in the same attribute.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Info {
    #[wire(serde(rename = "x"), sinse = 1)]
    flags: u32,
}

fn main() {}
