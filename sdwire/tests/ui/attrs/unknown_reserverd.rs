// A misspelt flag gets a suggestion too.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Info {
    flags: u32,
    #[wire(reserverd)]
    _pad: [u8; 4],
}

fn main() {}
