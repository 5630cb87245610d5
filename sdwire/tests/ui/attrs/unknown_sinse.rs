// A misspelt field attribute gets a suggestion.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 2, compat = 1)]
struct Info {
    #[wire(sinse = 2, default)]
    flags: u32,
}

fn main() {}
