// Only optional fields may follow an optional one.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be)]
struct ExportInfo {
    size: u64,
    #[wire(optional)]
    zeroes: Option<sdwire::Zeros<124>>,
    flags: u16,
}

fn main() {}
