// A misspelt variant attribute gets a suggestion.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8)]
enum Op {
    #[wire(opcod = 1)]
    Read,
}

fn main() {}
