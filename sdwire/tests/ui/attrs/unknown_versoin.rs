// A misspelt container attribute gets a suggestion.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, versoin = 2)]
struct Info {
    flags: u32,
}

fn main() {}
