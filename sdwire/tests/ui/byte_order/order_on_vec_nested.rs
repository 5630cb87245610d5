// The elements of a `Vec<T>` carry their own byte order.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be)]
struct Item {
    id: u32,
}

#[derive(Wire)]
#[wire(le)]
struct List {
    n: u16,
    #[wire(count = n, be)]
    items: Vec<Item>,
}

fn main() {}
