// An `Option` field must say it is an optional tail.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be)]
struct ExportInfo {
    size: u64,
    zeroes: Option<sdwire::Zeros<124>>,
}

fn main() {}
