// `optional` needs an `Option<T>`.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be, packed)]
struct ExportInfo {
    size: u64,
    #[wire(optional)]
    flags: u16,
}

fn main() {}
