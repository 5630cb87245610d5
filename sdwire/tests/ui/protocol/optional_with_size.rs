// A struct with an optional tail has no fixed size.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be, size = 10)]
struct ExportInfo {
    size: u64,
    flags: u16,
    #[wire(optional)]
    zeroes: Option<sdwire::Zeros<124>>,
}

fn main() {}
