// Same for `Vec<T>` with a count.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Item {
    id: u32,
}

#[derive(Wire)]
#[wire(le, size = 8)]
struct List {
    n: u32,
    #[wire(count = n)]
    items: Vec<Item>,
}

fn main() {}
