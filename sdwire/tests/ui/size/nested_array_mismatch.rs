// Same through an array of a nested type.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Entry {
    id: u32,
    flags: u32,
}

#[derive(Wire)]
#[wire(le, size = 64)]
struct Table {
    entries: [Entry; 4],
}

fn main() {}
